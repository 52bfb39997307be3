"""Does the gradient vanish? ‖∂h_t/∂h_s‖ for every s <= t, exactly, with autograd.

The chain h_s -> h_{s+1} -> … -> h_t is rebuilt with cell.step from the layer's inputs (the
layers below are held fixed), then one batched backward pass seeded with the identity gives all
H rows of every Jacobian ∂h_t/∂h_s at once.
"""

from __future__ import annotations

import torch
from torch import nn

from .cell import step
from .trace import recompute
from .weights import config_of, layer_weights


def jacobian_norms(gru: nn.GRU | dict, x: torch.Tensor, t: int, layer: int = 0,
                   h0: torch.Tensor | None = None, since: int = 0) -> torch.Tensor:
    """(t − since + 1,): Frobenius norm of ∂h_t/∂h_s for s = since..t in `layer` (forward).

    The cost grows with t − since (one step of the chain each), so long texts pass a `since`.
    """
    T = x.shape[0]
    if not 0 <= since <= t < T:
        raise IndexError(f"need 0 <= since <= t <= {T - 1}")
    trace = recompute(gru, x[: t + 1], h0)
    w = layer_weights(gru, layer, 0)
    inputs = trace.layer_inputs[layer]
    H = config_of(gru).hidden_size
    with torch.enable_grad():
        h = trace.gate("h", layer)[since].clone().requires_grad_()
        states = [h]
        for s in range(since + 1, t + 1):
            states.append(step(inputs[s], states[-1], w)["h"])
        eye = torch.eye(H, dtype=h.dtype)  # row i seeds ∂h_t[i]/∂(everything)
        grads = torch.autograd.grad(states[-1], states, grad_outputs=eye, is_grads_batched=True,
                                    allow_unused=True)
    return torch.stack([g.norm() for g in grads])
