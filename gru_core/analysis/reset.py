"""What does the reset gate do? The same step recomputed as if r were 1 (no reset).

Reset after the product (nn.GRU, Keras reset_after=True): n_t = tanh(in_t + r_t ⊙ hn_t); with r = 1
the candidate sees all of W_hn h_prev + b_hn. Reset before it (Keras reset_after=False, the
lecture's formula): n_t = tanh(in_t + W_hn (r_t ⊙ h_prev)); with r = 1 it sees W_hn h_prev. Only
step t of one layer changes, in the trace's convention (its step and its order of operations);
layers above see the changed h at step t (through the layers a Keras model runs between its
GRUs), with their own h_prev as it was, so the next-token
prediction shows what the reset gate changed at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core import CONVENTIONS, TextTrace, layer_input
from ..core.lm import head_probs
from .notation import other_candidate


@dataclass
class ResetCounterfactual:
    r: torch.Tensor  # (H,) the reset gate at the step
    n: torch.Tensor  # (H,) the actual candidate
    n_no_reset: torch.Tensor  # (H,) the candidate with r = 1
    n_other: torch.Tensor  # (H,) the other formula's candidate with these weights (the
    # lecture's for a model that resets after the product, PyTorch's for one that resets before)
    probs: torch.Tensor | None  # (V,) the actual next-token distribution
    probs_no_reset: torch.Tensor | None  # (V,) with r = 1 at this step and layer
    old_state_zero: bool = False  # h_prev is 0 in every unit (a start from zeros): r then acts
    # on the old state's bias alone (b_hn), not on any old state

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
    conv = CONVENTIONS[tt.convention]
    z, hn, h_prev = (tt.gate(k, layer, 0, t) for k in ("z", "hn", "h_prev"))
    if not conv.reset_after:  # r = 1: the product sees h_prev itself
        hn = h_prev @ tt.weights(layer).W_hn.t()
    n_no_reset = torch.tanh(tt.gate("in", layer, 0, t) + hn)
    h = conv.update(h_prev, z, n_no_reset)
    for upper in range(layer + 1, tt.config.num_layers):
        x = layer_input(tt.model.module.gru, upper, h.reshape(1, -1))[0]  # BN ... between them
        h = conv.step(x, tt.gate("h_prev", upper, 0, t), tt.weights(upper))["h"]
    head = tt.model.module.head
    probs_no_reset = None if head is None else head_probs(head, h.reshape(1, -1))[0]
    n_other = other_candidate(tt, layer, steps=slice(t, t + 1))[0]
    return ResetCounterfactual(tt.gate("r", layer, 0, t), tt.gate("n", layer, 0, t), n_no_reset,
                               n_other,
                               None if tt.probs is None else tt.probs[t], probs_no_reset,
                               bool((h_prev == 0).all()))
