"""Everything the step card and the step chart show for one (step, unit), as plain numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..core import CONVENTIONS, GATES, FeatureTrace, TextTrace
from .notation import course_bias, other_candidate
from .terms import cell_terms


@dataclass
class StepCard:
    t: int
    unit: int
    layer: int
    direction: int
    token: str  # the token read at t (a feature model's: the input frames, step_label)
    input_kind: str  # x_t is "one-hot", a row of the "embedding", the "layer below"'s h, or
    # the "features" the layers before the GRU make of the input frames
    token_id: int | None  # the token's index in the vocabulary (its one-hot position, or row
    # of E); None for features
    one_hot_index: int | None  # its column in W_ir when x_t is one-hot, else None
    input_column: dict[str, float]  # W_ir[unit, k], W_iz[unit, k], W_in[unit, k] for that k
    terms: dict[str, float]  # terms.cell_terms (the gates, the reset's product r_hn or
    # r_h_prev, keep, new, h, the framework's own h_gru), h_diff = h − h_gru, split_diff =
    # (keep + new) − h: float32 rounds the textbook form a few ulps differently
    biases: dict[str, float]  # b_ir .. b_hn (0.0 when the GRU has no bias, or, reset before
    # the product, for hr hz hn: such a GRU has one bias per gate, b_ir b_iz b_in)
    course: dict[str, float]  # this model's terms in the course's names: Γr = r, Γu = 1 − z,
    # c̃ = n, c⟨t−1⟩ = h_prev, c⟨t⟩ = h; b_r, b_u, b_c (one bias per gate); and, for a model
    # that resets after the product, "c̃ (lecture)": the lecture's formula applied to these
    # weights, a comparison only (n_other)
    convention: str = "pytorch"  # convention.CONVENTIONS: whose step these numbers are
    framework: str = "PyTorch nn.GRU"  # in words, for the card
    reset_after: bool = True  # n = tanh(in + r·hn) (True) or tanh(in + hn), hn = W_hn(r·h_prev)
    update_form: str = "(h_prev − n)·z + n"  # the order h was recomputed in
    n_other: float = 0.0  # the candidate of the formula this model does not compute, with its
    # weights (notation.other_candidate): the lecture's, or PyTorch's for a reset-before model


def step_card(tt: TextTrace, t: int, unit: int, layer: int = 0, direction: int = 0
              ) -> StepCard:
    """Numbers are float64 copies of the trace's own values."""
    conv = CONVENTIONS[tt.convention]
    c = cell_terms(tt, layer, direction, t, unit)  # 0-dim tensors, the trace's dtype
    w = tt.weights(layer, direction)
    terms = {k: float(v) for k, v in c.items()}
    terms.update(h_diff=float(c["h"] - c["h_gru"]), split_diff=float(c["keep"] + c["new"] - c["h"]))
    biases = {name: _or_zero(getattr(w, name), unit)
              for name in ("b_ir", "b_iz", "b_in", "b_hr", "b_hz", "b_hn")}
    kind = input_kind(tt, layer)
    features = isinstance(tt, FeatureTrace)
    other = float(other_candidate(tt, layer, direction, slice(t, t + 1))[0, unit])
    course = {
        "Γr": terms["r"], "Γu": 1 - float(c["z"]), "c̃": terms["n"], "c⟨t−1⟩": terms["h_prev"],
        "c⟨t⟩": terms["h"], **({"c̃ (lecture)": other} if conv.reset_after else {}),
        **{f"b_{k}": _or_zero(course_bias(tt, k, layer, direction), unit) for k in "ruc"},
    }
    k = one_hot_column(tt, t, layer)
    column = {} if k is None else {name: float(getattr(w, name)[unit, k])
                                   for name in ("W_ir", "W_iz", "W_in")}
    return StepCard(t, unit, layer, direction,
                    tt.step_label(t) if features else tt.tokens[t], kind,
                    None if features else tt.vocab.index(tt.tokens[t]), k, column, terms, biases,
                    course,
                    conv.name, conv.framework, conv.reset_after, conv.update_form, other)


def step_cards(tt: TextTrace, unit: int, layer: int = 0, direction: int = 0,
               steps: slice = slice(None)) -> list[StepCard]:
    """step_card at every step of `steps`, equal to it field for field: the terms read over the
    window at once (elementwise, so each step's bits are its own), the other formula's
    candidate step by step as step_card computes it (a product whose bits could depend on how
    many rows it multiplies), the weights and biases once. What the stepper sends with its
    chart, so that the browser can show the card of any step of the window."""
    conv = CONVENTIONS[tt.convention]
    c = cell_terms(tt, layer, direction, steps, unit)  # (steps,) each, the trace's dtype
    values = {k: v.tolist() for k, v in c.items()}
    h_diff, split_diff = (c["h"] - c["h_gru"]).tolist(), (c["keep"] + c["new"] - c["h"]).tolist()
    w = tt.weights(layer, direction)
    biases = {name: _or_zero(getattr(w, name), unit)
              for name in ("b_ir", "b_iz", "b_in", "b_hr", "b_hz", "b_hn")}
    kind = "layer below" if layer > 0 else (
        "one-hot" if tt.model.module.embed is None else "embedding")
    course_b = {f"b_{k}": _or_zero(course_bias(tt, k, layer, direction), unit) for k in "ruc"}
    cards = []
    for i, t in enumerate(range(tt.T)[steps]):
        terms = {k: v[i] for k, v in values.items()}
        terms.update(h_diff=h_diff[i], split_diff=split_diff[i])
        other = float(other_candidate(tt, layer, direction, slice(t, t + 1))[0, unit])
        course = {
            "Γr": terms["r"], "Γu": 1 - terms["z"], "c̃": terms["n"],
            "c⟨t−1⟩": terms["h_prev"], "c⟨t⟩": terms["h"],
            **({"c̃ (lecture)": other} if conv.reset_after else {}), **course_b}
        k = one_hot_column(tt, t, layer)
        column = {} if k is None else {name: float(getattr(w, name)[unit, k])
                                       for name in ("W_ir", "W_iz", "W_in")}
        cards.append(StepCard(t, unit, layer, direction, tt.tokens[t], kind,
                              tt.vocab.index(tt.tokens[t]), k, column, terms, dict(biases),
                              course, conv.name, conv.framework, conv.reset_after,
                              conv.update_form, other))
    return cards


def contributions(tt: TextTrace, t: int, unit: int, layer: int = 0, direction: int = 0,
                  top: int = 5) -> dict[str, pd.DataFrame]:
    """Where hr, hz, hn (and, for a dense x_t, ir, iz, in) came from: the products
    W[unit, j]·h_prev[j] (W[unit, j]·x_t[j]) of each sum that are largest in size. For a GRU
    that resets before the product, hn's are W_hn[unit, j]·(r ⊙ h_prev)[j]."""
    w, h_prev = tt.weights(layer, direction), tt.gate("h_prev", layer, direction, t)
    tables = {k: _contributions(getattr(w, f"W_{k}")[unit], h_prev, top)
              for k in ("hr", "hz", "hn")}
    if not CONVENTIONS[tt.convention].reset_after:
        r_h_prev = cell_terms(tt, layer, direction, t)["r_h_prev"]  # (H,): what W_hn multiplies
        tables["hn"] = _contributions(w.W_hn[unit], r_h_prev, top, "r⊙h_prev")
    if one_hot_column(tt, t, layer) is None:
        x_t = tt.layer_inputs[layer][t]
        tables.update({k: _contributions(getattr(w, f"W_{k}")[unit], x_t, top, "x_t")
                       for k in ("ir", "iz", "in")})
    return tables


def input_kind(tt: TextTrace, layer: int) -> str:
    """What x_t is at `layer`: "layer below", "features", "one-hot" or "embedding"."""
    if layer > 0:
        return "layer below"
    if isinstance(tt, FeatureTrace):
        return "features"
    return "one-hot" if tt.model.module.embed is None else "embedding"


def one_hot_column(tt: TextTrace, t: int, layer: int) -> int | None:
    """The column of W_ir that x_t selects, when layer reads one-hot tokens."""
    if input_kind(tt, layer) != "one-hot":
        return None
    return tt.vocab.index(tt.tokens[t])


def _or_zero(b: torch.Tensor | None, unit: int) -> float:
    return 0.0 if b is None else float(b[unit])


def _contributions(w_row: torch.Tensor, v: torch.Tensor, top: int, name: str = "h_prev"
                   ) -> pd.DataFrame:
    """The terms W[unit, j]·v[j] of the sum W v, largest in size first."""
    product = w_row * v
    idx = product.abs().topk(min(top, len(product))).indices
    return pd.DataFrame({"j": idx.numpy(), "W[unit, j]": w_row[idx].double().numpy(),
                         f"{name}[j]": v[idx].double().numpy(),
                         "product": product[idx].double().numpy()})


def trace_table(tt: TextTrace, layer: int = 0, direction: int = 0, units: list[int] | None = None,
                steps: slice = slice(None)) -> pd.DataFrame:
    """Long table: one row per (t, unit) with every term, for CSV export."""
    t_idx = torch.arange(tt.T)[steps]
    units = list(range(tt.config.hidden_size)) if units is None else units
    tokens = [tt.tokens[i] for i in t_idx]
    frames = []
    for u in units:
        cols = {k: tt.gate(k, layer, direction, steps)[:, u].double().numpy() for k in GATES}
        frames.append(pd.DataFrame({"t": t_idx.numpy(), "token": tokens, "layer": layer,
                                    "direction": direction, "unit": u, **cols}))
    return pd.concat(frames, ignore_index=True).sort_values(["t", "unit"], ignore_index=True)


def balance(tt: TextTrace, unit: int, layer: int = 0, direction: int = 0,
            steps: slice = slice(None)) -> pd.DataFrame:
    """Per step for one unit: kept part z·h_prev, new part (1−z)·n, the framework's h, z, n,
    h_prev (terms.cell_terms, float64)."""
    c = cell_terms(tt, layer, direction, steps, unit, float64=True)
    t_idx = torch.arange(tt.T)[steps]
    return pd.DataFrame({"t": t_idx.numpy(), "token": [tt.tokens[i] for i in t_idx],
                         **{k: c[k].numpy() for k in ("keep", "new", "h", "z", "n", "h_prev")}})


def heatmaps(tt: TextTrace, layer: int = 0, direction: int = 0, steps: slice = slice(None),
             names: tuple[str, ...] = ("r", "z", "n", "h")) -> dict[str, np.ndarray]:
    """(units, steps) matrices of each term over a window of steps."""
    return {k: tt.gate(k, layer, direction, steps).t().numpy() for k in names}
