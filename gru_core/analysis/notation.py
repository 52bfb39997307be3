"""PyTorch's GRU and the course's GRU, term by term.

    course                                   PyTorch (torch.nn.GRU)
    Γr = σ(W_r[c<t−1>, x<t>] + b_r)          r = σ(W_ir x + b_ir + W_hr h_prev + b_hr)
    Γu = σ(W_u[c<t−1>, x<t>] + b_u)          z = σ(W_iz x + b_iz + W_hz h_prev + b_hz)
    c̃ = tanh(W_c[Γr ⊙ c<t−1>, x<t>] + b_c)   n = tanh(W_in x + b_in + r ⊙ (W_hn h_prev + b_hn))
    c<t> = Γu ⊙ c̃ + (1 − Γu) ⊙ c<t−1>        h = (1 − z) ⊙ n + z ⊙ h_prev

Three real differences:
1. One bias per gate in the course: b_r = b_ir + b_hr (likewise b_u); the values of r and Γr agree.
2. PyTorch's z is the share of the *old* state kept; the course's Γu is the share of the candidate
   taken: Γu = 1 − z.
3. The course resets c<t−1> before the matrix product, PyTorch resets W_hn h_prev + b_hn after it.
   With the same weights the two candidates differ; course_candidate() gives the course's number.
"""

from __future__ import annotations

import torch

from ..core import Trace

SYMBOLS = {
    "pytorch": {"r": "r", "z": "z", "n": "n", "h": "h", "h_prev": "h_prev", "keep": "z·h_prev",
                "new": "(1−z)·n"},
    "course": {"r": "Γr", "z": "1−Γu", "n": "c̃", "h": "c<t>", "h_prev": "c<t−1>",
               "keep": "(1−Γu)·c<t−1>", "new": "Γu·c̃"},
}


def course_candidate(trace: Trace, layer: int = 0, direction: int = 0,
                     steps: slice = slice(None)) -> torch.Tensor:
    """(T, H): c̃ = tanh(W_in x + b_in + W_hn (r ⊙ h_prev) + b_hn), reset *before* the product."""
    w = trace.weights(layer, direction)
    r, h_prev = (trace.gate(k, layer, direction, steps) for k in ("r", "h_prev"))
    pre = trace.gate("in", layer, direction, steps) + (r * h_prev) @ w.W_hn.t()
    if w.b_hn is not None:
        pre = pre + w.b_hn
    return torch.tanh(pre)


def course_bias(trace: Trace, gate: str, layer: int = 0, direction: int = 0
                ) -> torch.Tensor | None:
    """The course's single bias: b_r = b_ir + b_hr, b_u = b_iz + b_hz, b_c = b_in + b_hn."""
    w = trace.weights(layer, direction)
    pair = {"r": (w.b_ir, w.b_hr), "u": (w.b_iz, w.b_hz), "c": (w.b_in, w.b_hn)}[gate]
    return None if pair[0] is None else pair[0] + pair[1]
