"""What does the reset gate do? The same step recomputed as if r were 1 (no reset).

n_t = tanh(in_t + r_t ⊙ hn_t); with r = 1 the candidate sees all of W_hn h_prev + b_hn. Only step
t of one layer changes; layers above see the changed h at step t, with their own h_prev as it was,
so the next-token prediction shows what the reset gate changed at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core import TextTrace, step, update
from .notation import course_candidate


@dataclass
class ResetCounterfactual:
    r: torch.Tensor  # (H,) the reset gate at the step
    n: torch.Tensor  # (H,) the actual candidate
    n_no_reset: torch.Tensor  # (H,) the candidate with r = 1
    n_course: torch.Tensor  # (H,) the course's candidate, reset before the product
    probs: torch.Tensor | None  # (V,) the actual next-token distribution
    probs_no_reset: torch.Tensor | None  # (V,) with r = 1 at this step and layer

    @property
    def change(self) -> torch.Tensor:
        """(H,) |n − n without reset| per unit: what the reset gate changed."""
        return (self.n - self.n_no_reset).abs()

    def most_changed(self, k: int = 20) -> list[int]:
        return self.change.topk(min(k, len(self.change))).indices.tolist()


@torch.no_grad()
def reset_counterfactual(tt: TextTrace, t: int, layer: int = 0) -> ResetCounterfactual:
    if tt.config.bidirectional:
        raise ValueError("the counterfactual is defined for unidirectional models")
    z, hn, h_prev = (tt.gate(k, layer, 0, t) for k in ("z", "hn", "h_prev"))
    n_no_reset = torch.tanh(tt.gate("in", layer, 0, t) + hn)
    h = update(h_prev, z, n_no_reset)
    for upper in range(layer + 1, tt.config.num_layers):
        h = step(h, tt.gate("h_prev", upper, 0, t), tt.weights(upper))["h"]
    head = tt.model.module.head
    probs_no_reset = None if head is None else torch.softmax(head(h), dim=-1)
    n_course = course_candidate(tt, layer, steps=slice(t, t + 1))[0]
    return ResetCounterfactual(tt.gate("r", layer, 0, t), tt.gate("n", layer, 0, t), n_no_reset,
                               n_course,
                               None if tt.probs is None else tt.probs[t], probs_no_reset)
