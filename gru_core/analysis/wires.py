"""What the cell's wires carry for one unit, step after step: the step card's terms over a
window of steps, read at once (the card reads one step; the player needs a window)."""

from __future__ import annotations

from ..core import CONVENTIONS, GATES, TextTrace

WIRES = ("h_prev", "ir", "hr", "r", "iz", "hz", "z", "in", "hn", "n", "keep", "new", "h")


def step_terms(tt: TextTrace, unit: int, layer: int = 0, direction: int = 0,
               steps: slice = slice(None)) -> list[dict[str, float]]:
    """Per step in `steps`: {"t", *WIRES, and r_hn or r_h_prev}, each the number
    step_card(tt, t, unit).terms gives
    (the same float32 products of the trace's gates: r_hn = r·hn where the reset acts after
    the product, r_h_prev = r·h_prev where it acts before, keep = z·h_prev, new = (1−z)·n,
    h = the framework's own update of the gates)."""
    conv = CONVENTIONS[tt.convention]
    g = {k: tt.gate(k, layer, direction, steps)[:, unit] for k in GATES}
    z, n, h_prev = g["z"], g["n"], g["h_prev"]
    reset = {"r_hn": g["r"] * g["hn"]} if conv.reset_after else {"r_h_prev": g["r"] * h_prev}
    cols = {**{k: g[k] for k in GATES if k != "h"}, **reset,
            "keep": z * h_prev, "new": (1 - z) * n, "h": conv.update(h_prev, z, n)}
    values = {k: v.tolist() for k, v in cols.items() if k in (*WIRES, *reset)}
    first = range(tt.T)[steps]
    return [{"t": t, **{k: v[i] for k, v in values.items()}} for i, t in enumerate(first)]
