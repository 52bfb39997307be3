"""What the cell's wires carry for one unit, step after step: the step card's terms over a
window of steps, read at once (the card reads one step; the player needs a window)."""

from __future__ import annotations

from ..core import GATES, TextTrace, update

WIRES = ("h_prev", "ir", "hr", "r", "iz", "hz", "z", "in", "hn", "n", "r_hn", "keep", "new", "h")


def step_terms(tt: TextTrace, unit: int, layer: int = 0, direction: int = 0,
               steps: slice = slice(None)) -> list[dict[str, float]]:
    """Per step in `steps`: {"t", *WIRES}, each the number step_card(tt, t, unit).terms gives
    (the same float32 products of the trace's gates: r_hn = r·hn, keep = z·h_prev,
    new = (1−z)·n, h = nn.GRU's update of the gates)."""
    g = {k: tt.gate(k, layer, direction, steps)[:, unit] for k in GATES}
    z, n, h_prev = g["z"], g["n"], g["h_prev"]
    cols = {**{k: g[k] for k in GATES if k != "h"}, "r_hn": g["r"] * g["hn"],
            "keep": z * h_prev, "new": (1 - z) * n, "h": update(h_prev, z, n)}
    values = {k: cols[k].tolist() for k in WIRES}
    first = range(tt.T)[steps]
    return [{"t": t, **{k: values[k][i] for k in WIRES}} for i, t in enumerate(first)]
