"""What the cell's wires carry for one unit, step after step: the step card's terms over a
window of steps, read at once (the card reads one step; the player needs a window)."""

from __future__ import annotations

from ..core import TextTrace
from .terms import RESET, TERMS, cell_terms

WIRES = TERMS  # the cell figure draws every term of the step


def step_terms(tt: TextTrace, unit: int, layer: int = 0, direction: int = 0,
               steps: slice = slice(None)) -> list[dict[str, float]]:
    """Per step in `steps`: {"t", *WIRES, and r_hn or r_h_prev}, each the number
    step_card(tt, t, unit).terms gives (both read terms.cell_terms in the trace's dtype)."""
    cols = cell_terms(tt, layer, direction, steps, unit)
    values = {k: v.tolist() for k, v in cols.items() if k in (*WIRES, *RESET.values())}
    first = range(tt.T)[steps]
    return [{"t": t, **{k: v[i] for k, v in values.items()}} for i, t in enumerate(first)]
