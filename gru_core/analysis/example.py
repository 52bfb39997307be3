"""The mentor's worked example: a few steps × a few units, every term of each, in one object.

    step 34, unit 9:  h_prev = 0.19, z = 0.00, n = −0.12  ->  h = z·h_prev + (1−z)·n = −0.12

One table per step (a row per unit) with h_prev, the input and hidden parts of each gate
(ir, hr, iz, hz, in, hn), the gates r, z, n, the kept part z·h_prev, the new part (1−z)·n and
nn.GRU's h; and the mentor's sentence for each unit, from the same row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core import Trace
from .summary import sentence
from .terms import TERMS, cell_terms

COLUMNS = TERMS  # a row per unit: every term of its step
MAX_STEPS = MAX_UNITS = 10  # a post, not a dump: one table per step, a row per unit


@dataclass
class WorkedExample:
    steps: list[int]
    units: list[int]
    layer: int
    direction: int
    tokens: list[str | None]  # the token read at each step (None for a bare Trace)
    tables: list[pd.DataFrame]  # per step: unit, then COLUMNS, float64 copies of the trace
    convention: str = "pytorch"  # the trace's (convention.CONVENTIONS): how n was computed
    biases: pd.DataFrame | None = None  # per unit: b_ir, b_hr (NaN where the model has none)
    # and the course's one bias b_r = b_ir + b_hr; None when the model has no biases

    @property
    def scope(self) -> str:
        """'steps 33, 34 × unit 7': what the example covers, each word singular for one."""
        return (f"{'step' if len(self.steps) == 1 else 'steps'} {', '.join(map(str, self.steps))}"
                f" × {'unit' if len(self.units) == 1 else 'units'} "
                f"{', '.join(map(str, self.units))}")

    def sentences(self, i: int, notation: str = "pytorch") -> list[str]:
        """The mentor's sentence for each unit at the i-th step."""
        return [sentence(row, notation) for row in self.tables[i].itertuples()]


def worked_example(trace: Trace, steps: list[int], units: list[int], layer: int = 0,
                   direction: int = 0) -> WorkedExample:
    """steps and units are indices into the trace (0..T−1, 0..H−1), at most MAX_* of each."""
    T, H = trace.T, trace.config.hidden_size
    if not steps or not units:
        raise ValueError("a worked example needs at least one step and one unit")
    if len(steps) > MAX_STEPS or len(units) > MAX_UNITS:
        raise ValueError(f"at most {MAX_STEPS} steps and {MAX_UNITS} units")
    if not all(0 <= t < T for t in steps) or not all(0 <= u < H for u in units):
        raise ValueError(f"steps must be in 0..{T - 1} and units in 0..{H - 1}")
    tokens = getattr(trace, "tokens", None)
    tables = []
    for t in steps:
        c = cell_terms(trace, layer, direction, t, units, float64=True)  # (U,) each
        tables.append(pd.DataFrame({"unit": units, **{k: c[k].numpy() for k in COLUMNS}}))
    return WorkedExample(list(steps), list(units), layer, direction,
                         [tokens[t] if tokens else None for t in steps], tables,
                         trace.convention, _biases(trace, units, layer, direction))


def _biases(trace: Trace, units: list[int], layer: int, direction: int) -> pd.DataFrame | None:
    """b_ir, b_hr and the course's b_r = b_ir + b_hr of each unit (b_hr is NaN for a model
    with one bias per gate, whose b_r is b_ir)."""
    w = trace.weights(layer, direction)
    if w.b_ir is None:
        return None
    b_ir = w.b_ir[units].double()
    b_hr = None if w.b_hr is None else w.b_hr[units].double()
    b_r = b_ir if b_hr is None else b_ir + b_hr
    return pd.DataFrame({"unit": units, "b_ir": b_ir.numpy(),
                         "b_hr": float("nan") if b_hr is None else b_hr.numpy(),
                         "b_r": b_r.numpy()})
