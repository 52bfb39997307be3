"""The readable path: nn.GRU's layer as a plain loop over steps, every term kept.

recompute() (trace.py) is the fast path: nn.GRU itself, then every step's terms at once. This is
the same arithmetic one step at a time, in the order of PyTorch's equations and of ATen's CPU
GRU (its FullLayer and GRUCell; PackedLayer for a batch), so that its numbers are nn.GRU's own
bit for bit and the fast path can be checked against it:

    gi  = W_ih x + b_ih                      for all steps at once: [ir | iz | in]
    gh  = W_hh h_prev + b_hh                 per step:              [hr | hz | hn]
    r   = σ(hr + ir)
    z   = σ(hz + iz)
    n   = tanh(in + r ⊙ hn)
    h   = (h_prev − n) ⊙ z + n               = (1 − z) ⊙ n + z ⊙ h_prev

At the caller's thread count, as nn.GRU is (MKL's products may depend on it). Slow (a Python
loop over steps): for tests and for reading, not for texts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NAMES = ("ir", "iz", "in", "hr", "hz", "hn", "r", "z", "n", "h_prev", "h")


def _weights(gru: nn.GRU, layer: int, direction: int):
    s = f"_l{layer}" + ("_reverse" if direction else "")
    return (getattr(gru, "weight_ih" + s), getattr(gru, "weight_hh" + s),
            getattr(gru, "bias_ih" + s, None), getattr(gru, "bias_hh" + s, None))


def _step(gi_t: torch.Tensor, h_prev: torch.Tensor, W_hh: torch.Tensor,
          b_hh: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """One step on rows: gi_t (B, 3H), h_prev (B, H) -> every term, each (B, H), with ATen's
    own operations in its order (in place where it works in place)."""
    gh = F.linear(h_prev, W_hh, b_hh)  # (B, 3H)
    ir, iz, in_ = gi_t.unsafe_chunk(3, 1)
    hr, hz, hn = gh.unsafe_chunk(3, 1)
    terms = {"ir": ir.clone(), "iz": iz.clone(), "in": in_.clone(), "hr": hr.clone(),
             "hz": hz.clone(), "hn": hn.clone(), "h_prev": h_prev.clone()}
    r = hr.add_(ir).sigmoid_()
    z = hz.add_(iz).sigmoid_()
    n = in_.add(hn.mul_(r)).tanh_()
    h = (h_prev - n).mul_(z).add_(n)
    return terms | {"r": r.clone(), "z": z.clone(), "n": n.clone(), "h": h}


@torch.no_grad()
def layer_steps(gru: nn.GRU, x: torch.Tensor, layer: int = 0, direction: int = 0,
                h0: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One layer and direction of nn.GRU on one sequence: x (T, I), that layer's input; h0 (H,)
    or None for zeros. Every term as (T, H), indexed by input position in both directions."""
    W_ih, W_hh, b_ih, b_hh = _weights(gru, layer, direction)
    T, H = x.shape[0], gru.hidden_size
    gi = F.linear(x.unsqueeze(1), W_ih, b_ih)  # (T, 1, 3H): one product for all steps
    h = torch.zeros(1, H, dtype=x.dtype) if h0 is None else h0.reshape(1, H)  # (1, H)
    terms: dict[str, list] = {k: [None] * T for k in NAMES}
    for t in (range(T - 1, -1, -1) if direction else range(T)):
        step = _step(gi[t], h, W_hh, b_hh)
        for k, v in step.items():
            terms[k][t] = v
        h = step["h"]
    return {k: torch.cat(v) for k, v in terms.items()}


@torch.no_grad()
def packed_steps(gru: nn.GRU, x: torch.Tensor, sizes: list[int], layer: int = 0,
                 direction: int = 0, h0: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The same loop for a batch in packed layout: x (N, I) holds step i's sizes[i] rows
    (sorted longest first), or x is a padded (T, B, I) batch as nn.GRU reads it (a transposed
    view for batch_first: at::linear adds the bias apart then) with sizes [B] * T; h0 (B, H).
    Per step, the rows of the sequences still running, as ATen's PackedLayer and
    ReversedPackedLayer do. Every term as (N, H), rows as in x."""
    W_ih, W_hh, b_ih, b_hh = _weights(gru, layer, direction)
    H, B = gru.hidden_size, sizes[0]
    gi = F.linear(x, W_ih, b_ih).reshape(-1, 3 * H)  # (N, 3H)
    h0 = torch.zeros(B, H, dtype=x.dtype) if h0 is None else h0  # (B, H)
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    terms: dict[str, list] = {k: [None] * len(sizes) for k in NAMES}
    h = h0[: sizes[-1]] if direction else h0
    for i in (range(len(sizes) - 1, -1, -1) if direction else range(len(sizes))):
        rows = sizes[i]
        if rows > h.shape[0]:  # backwards, sequences join from h0
            h = torch.cat([h, h0[h.shape[0] : rows]])
        step = _step(gi[starts[i] : starts[i] + rows], h[:rows], W_hh, b_hh)
        for k, v in step.items():
            terms[k][i] = v
        h = step["h"]
    return {k: torch.cat(v) for k, v in terms.items()}
