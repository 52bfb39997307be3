"""What does the reset gate do? The same step recomputed as if r were 1 (no reset).

n_t = tanh(in_t + r_t ⊙ hn_t); with r = 1 the candidate sees all of W_hn h_prev + b_hn. Only step
t of one layer changes; layers above see the changed h at step t, with their own h_prev as it was,
so the next-character prediction shows what the reset gate changed at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cell import step
from .lm import TextTrace
from .notation import course_candidate
from .weights import layer_weights


@dataclass
class ResetCounterfactual:
    n: torch.Tensor  # (H,) the actual candidate
    n_no_reset: torch.Tensor  # (H,) the candidate with r = 1
    n_course: torch.Tensor  # (H,) the course's candidate, reset before the product
    probs: torch.Tensor  # (V,) the actual next-character distribution
    probs_no_reset: torch.Tensor  # (V,) with r = 1 at this step and layer


@torch.no_grad()
def reset_counterfactual(model, tt: TextTrace, t: int, layer: int = 0) -> ResetCounterfactual:
    """model: the CharGRU behind tt (forward direction only)."""
    tr = tt.trace
    if tr.config.bidirectional:
        raise ValueError("the counterfactual is defined for unidirectional models")
    z, hn, h_prev = (tr.gate(k, layer, 0, t) for k in ("z", "hn", "h_prev"))
    n_no_reset = torch.tanh(tr.gate("in", layer, 0, t) + hn)
    h = (1 - z) * n_no_reset + z * h_prev
    for upper in range(layer + 1, tr.config.num_layers):
        w = layer_weights(model.gru, upper)
        h = step(h, tr.gate("h_prev", upper, 0, t), w)["h"]
    probs_no_reset = torch.softmax(model.head(h), dim=-1)
    n_course = course_candidate(model.gru, tr, layer, steps=slice(t, t + 1))[0]
    return ResetCounterfactual(tr.gate("n", layer, 0, t), n_no_reset, n_course, tt.probs[t],
                               probs_no_reset)
