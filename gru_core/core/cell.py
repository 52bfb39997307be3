"""One GRU step in plain sight, in the order of PyTorch's equations (torch.nn.GRU docs):

    r   = σ(W_ir x + b_ir + W_hr h_prev + b_hr)        reset gate
    z   = σ(W_iz x + b_iz + W_hz h_prev + b_hz)        update gate (z = 1 keeps h_prev)
    n   = tanh(W_in x + b_in + r ⊙ (W_hn h_prev + b_hn)) candidate
    h   = (1 − z) ⊙ n + z ⊙ h_prev

The course writes Γu = 1 − z, Γr = r, c̃ = n, and applies Γr to c<t−1> *before* the matrix
product; see analysis/notation.py. recompute() gets the same numbers for every step at once.
"""

from __future__ import annotations

import torch

from .weights import LayerWeights


def update(h_prev: torch.Tensor, z: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """h = (1 − z) ⊙ n + z ⊙ h_prev, computed as nn.GRU does, (h_prev − n) ⊙ z + n: the same
    number in exact arithmetic, and bit for bit nn.GRU's own h in floating point."""
    return (h_prev - n) * z + n


def _affine(W: torch.Tensor, v: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return W @ v if b is None else W @ v + b


def step(x: torch.Tensor, h_prev: torch.Tensor, w: LayerWeights) -> dict[str, torch.Tensor]:
    """x: (I,), h_prev: (H,) -> every term of the step, each (H,)."""
    ir = _affine(w.W_ir, x, w.b_ir)
    hr = _affine(w.W_hr, h_prev, w.b_hr)
    r = torch.sigmoid(ir + hr)

    iz = _affine(w.W_iz, x, w.b_iz)
    hz = _affine(w.W_hz, h_prev, w.b_hz)
    z = torch.sigmoid(iz + hz)

    in_ = _affine(w.W_in, x, w.b_in)
    hn = _affine(w.W_hn, h_prev, w.b_hn)
    n = torch.tanh(in_ + r * hn)

    h = update(h_prev, z, n)
    return {"ir": ir, "hr": hr, "r": r, "iz": iz, "hz": hz, "z": z,
            "in": in_, "hn": hn, "n": n, "h_prev": h_prev, "h": h}
