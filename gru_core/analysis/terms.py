"""The terms of one step, named once: those the trace holds (core.GATES) and those derived from
them here, in one place.

    keep = z ⊙ h_prev                 the kept part
    new  = (1 − z) ⊙ n                the new part
    r_hn = r ⊙ hn                     the reset's product, where it acts after W_hn h_prev
    r_h_prev = r ⊙ h_prev             where it acts before (a Keras GRU with reset_after=False)
    h    = update(h_prev, z, n)       in the framework's own order (Convention.update): its h

The card, the player's cell, the worked example and the balance chart all read them here.
"""

from __future__ import annotations

import torch

from ..core import CONVENTIONS, GATES, Trace

# The cell's terms in the order of its equations: the worked example's columns, the cell's wires.
TERMS = ("h_prev", "ir", "hr", "r", "iz", "hz", "z", "in", "hn", "n", "keep", "new", "h")
RESET = {True: "r_hn", False: "r_h_prev"}  # the reset's product, by Convention.reset_after


def cell_terms(trace: Trace, layer: int = 0, direction: int = 0, steps=None,
                  units=slice(None), float64: bool = False) -> dict[str, torch.Tensor]:
    """Every GATES term but h, the reset's product, keep, new, h and h_gru (the trace's own h),
    at `steps` (an int, a slice) for `units` (an int, a list, a slice): (steps, units) or less.

    h is the framework's update of the trace's gates in the trace's dtype. float64=True gives
    float64 copies and forms keep, new and the reset's product from them (h is still the
    framework's, then copied)."""
    conv = CONVENTIONS[trace.convention]
    g = {k: trace.gate(k, layer, direction, steps)[..., units] for k in GATES}
    h = conv.update(g["h_prev"], g["z"], g["n"])
    if float64:
        g, h = {k: v.double() for k, v in g.items()}, h.double()
    z, n, h_prev = g["z"], g["n"], g["h_prev"]
    reset = g["r"] * (g["hn"] if conv.reset_after else h_prev)
    return {**{k: v for k, v in g.items() if k != "h"}, RESET[conv.reset_after]: reset,
            "keep": z * h_prev, "new": (1 - z) * n, "h": h, "h_gru": g["h"]}
