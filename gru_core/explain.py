"""Everything the step card shows for one (step, unit), as plain numbers, in equation order."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from .lm import TextTrace
from .notation import course_bias, course_candidate
from .trace import GATES
from .weights import layer_weights

TERM_ORDER = ("ir", "hr", "r", "iz", "hz", "z", "in", "hn", "r_hn", "n", "h_prev", "keep", "new",
              "h", "h_gru", "h_diff", "split_diff")


@dataclass
class StepCard:
    t: int
    unit: int
    layer: int
    direction: int
    char: str  # the character read at t
    one_hot_index: int | None  # its column in W_ir (layer 0), None for layers fed by a layer below
    input_column: dict[str, float]  # W_ir[unit, k], W_iz[unit, k], W_in[unit, k] for that column k
    terms: dict[str, float]  # TERM_ORDER: keep = z·h_prev, new = (1−z)·n, h = (h_prev − n)·z + n;
    # split_diff = (keep + new) − h: float32 rounds the textbook form a few ulps differently
    biases: dict[str, float]  # b_ir .. b_hn (0.0 when the GRU has no bias)
    top_h_prev: dict[str, pd.DataFrame]  # per hr/hz/hn: units j of h_prev contributing most
    course: dict[str, float]  # Γr, Γu, b_r, b_u, b_c, c̃ (course), c<t> (course)


def step_card(model, tt: TextTrace, t: int, unit: int, layer: int = 0, direction: int = 0,
              top: int = 5) -> StepCard:
    """model: the CharGRU behind tt. Numbers are float64 copies of the trace's own values."""
    tr, gru = tt.trace, model.gru
    g = {k: tr.gate(k, layer, direction, t) for k in GATES}
    w = layer_weights(gru, layer, direction)
    z, n, h_prev = g["z"][unit], g["n"][unit], g["h_prev"][unit]
    keep, new = z * h_prev, (1 - z) * n
    h = (h_prev - n) * z + n  # the same h in nn.GRU's order of operations: bit for bit its own
    terms = {k: float(g[k][unit]) for k in GATES if k != "h"}
    terms.update(r_hn=float(g["r"][unit] * g["hn"][unit]), keep=float(keep), new=float(new),
                 h=float(h), h_gru=float(g["h"][unit]), h_diff=float(h - g["h"][unit]),
                 split_diff=float(keep + new - h))
    biases = {name: 0.0 if b is None else float(b[unit]) for name, b in (
        ("b_ir", w.b_ir), ("b_iz", w.b_iz), ("b_in", w.b_in),
        ("b_hr", w.b_hr), ("b_hz", w.b_hz), ("b_hn", w.b_hn))}
    top_h_prev = {
        "hr": _contributions(w.W_hr[unit], g["h_prev"], top),
        "hz": _contributions(w.W_hz[unit], g["h_prev"], top),
        "hn": _contributions(w.W_hn[unit], g["h_prev"], top),
    }
    c_tilde = float(course_candidate(gru, tr, layer, direction, slice(t, t + 1))[0, unit])
    gamma_u = 1 - float(z)
    course = {
        "Γr": terms["r"], "Γu": gamma_u, "c̃": c_tilde, "c<t−1>": terms["h_prev"],
        "c<t>": gamma_u * c_tilde + (1 - gamma_u) * terms["h_prev"],
        **{f"b_{k}": _or_zero(course_bias(gru, k, layer, direction), unit) for k in "ruc"},
    }
    k = tt.vocab.index(tt.text[t]) if layer == 0 else None
    column = {} if k is None else {name: float(getattr(w, name)[unit, k])
                                   for name in ("W_ir", "W_iz", "W_in")}
    return StepCard(t, unit, layer, direction, tt.text[t], k, column, terms, biases, top_h_prev,
                    course)


def _or_zero(b: torch.Tensor | None, unit: int) -> float:
    return 0.0 if b is None else float(b[unit])


def _contributions(w_row: torch.Tensor, h_prev: torch.Tensor, top: int) -> pd.DataFrame:
    """The terms W[unit, j]·h_prev[j] of the sum W h_prev, largest in size first."""
    product = w_row * h_prev
    idx = product.abs().topk(min(top, len(product))).indices
    return pd.DataFrame({"j": idx.numpy(), "W[unit, j]": w_row[idx].double().numpy(),
                         "h_prev[j]": h_prev[idx].double().numpy(),
                         "product": product[idx].double().numpy()})


def trace_table(tt: TextTrace, layer: int = 0, direction: int = 0, units: list[int] | None = None,
                steps: slice = slice(None)) -> pd.DataFrame:
    """Long table: one row per (t, unit) with every term, for CSV export."""
    tr = tt.trace
    t_idx = torch.arange(tr.T)[steps]
    units = list(range(tr.config.hidden_size)) if units is None else units
    frames = []
    for u in units:
        cols = {k: tr.gate(k, layer, direction, steps)[:, u].double().numpy() for k in GATES}
        frames.append(pd.DataFrame({"t": t_idx.numpy(), "char": [tt.text[i] for i in t_idx],
                                    "layer": layer, "direction": direction, "unit": u, **cols}))
    return pd.concat(frames, ignore_index=True).sort_values(["t", "unit"], ignore_index=True)


def balance(tt: TextTrace, unit: int, layer: int = 0, direction: int = 0,
            steps: slice = slice(None)) -> pd.DataFrame:
    """Per step for one unit: kept part z·h_prev, new part (1−z)·n, their sum h, and z."""
    g = {k: tt.trace.gate(k, layer, direction, steps)[:, unit].double()
         for k in ("z", "n", "h_prev")}
    t_idx = torch.arange(tt.trace.T)[steps]
    keep, new = g["z"] * g["h_prev"], (1 - g["z"]) * g["n"]
    return pd.DataFrame({"t": t_idx.numpy(), "char": [tt.text[i] for i in t_idx],
                         "keep": keep.numpy(), "new": new.numpy(), "h": (keep + new).numpy(),
                         "z": g["z"].numpy(), "n": g["n"].numpy(), "h_prev": g["h_prev"].numpy()})
