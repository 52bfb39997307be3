"""Does the gradient vanish? ‖∂h_t/∂h_s‖ for every s <= t, exactly, with autograd.

By the chain rule ∂h_t/∂h_s = A_t A_{t−1} … A_{s+1}, where A_k = ∂h_k/∂h_{k−1} is the Jacobian of
one step (the trace's convention's step: nn.GRU's, or a Keras GRU's, whose reset_after=False
resets before the product) at the trace's own (x_k, h_{k−1}). Autograd computes all A_k in one
batched pass (torch.func.jacrev under vmap: no Python loop over steps or over rows), then the
products are accumulated from t backwards, one H × H matrix product per step. The layers below
are held fixed: they only supply x_k.

The course's argument is a comparison: rnn_jacobian_norms() gives the same curve for a plain
RNN, h = tanh(W_ih x + b_ih + W_hh h_prev + b_hh), read over the same text.
"""

from __future__ import annotations

import torch
from torch.func import jacrev, vmap

from ..core import CONVENTIONS, Checkpoint, Trace

BLOCK = 64


def jacobian_norms(trace: Trace, t: int, layer: int = 0, since: int = 0) -> torch.Tensor:
    """(t − since + 1,): Frobenius norm of ∂h_t/∂h_s for s = since..t in `layer` (forward).

    The cost grows with t − since (one H × H product per step), so long texts pass a `since`.
    """
    if not 0 <= since <= t < trace.T:
        raise IndexError(f"need 0 <= since <= t <= {trace.T - 1}")
    w = trace.weights(layer, 0)
    x_k = trace.layer_inputs[layer][since + 1 : t + 1]  # (n, I), n = t − since
    h_prev = trace.gate("h_prev", layer, steps=slice(since + 1, t + 1))  # (n, H)

    step = CONVENTIONS[trace.convention].step

    def one_step(h, x_t):
        return step(x_t, h, w)["h"]

    return _chain(one_step, h_prev, x_k)


@torch.no_grad()
def rnn_jacobian_norms(rnn: Checkpoint, text: str, t: int, since: int = 0) -> torch.Tensor:
    """(t − since + 1,): ‖∂h_t/∂h_s‖ of a plain-RNN checkpoint's first layer over `text`."""
    module = rnn.module
    x = module.inputs(rnn.vocab.encode(text)[: t + 1])
    if not 0 <= since <= t < len(x):
        raise IndexError(f"need 0 <= since <= t <= {len(x) - 1}")
    cell = module.recurrent
    h = cell(x.unsqueeze(1))[0][:, 0]  # nn.RNN's own states
    W_ih, W_hh = cell.weight_ih_l0, cell.weight_hh_l0
    b = (cell.bias_ih_l0 + cell.bias_hh_l0) if cell.bias else 0

    def one_step(h_prev, x_t):
        return torch.tanh(W_ih @ x_t + W_hh @ h_prev + b)

    return _chain(one_step, h[since:t], x[since + 1 : t + 1])  # jacrev ignores no_grad


def _chain(one_step, h_prev: torch.Tensor, x_k: torch.Tensor) -> torch.Tensor:
    """Norms of the products A_t … A_{s+1} for every s, with A_k = ∂one_step/∂h_prev at
    (h_prev[k], x_k[k]); the last entry is the identity (s = t)."""
    per_step = vmap(jacrev(one_step))  # A[k] = ∂h_{since+k+1}/∂h_{since+k}, (H, H) each
    J = torch.eye(h_prev.shape[1], dtype=h_prev.dtype)  # ∂h_t/∂h_t
    norms = [J.norm()]
    # blocks of steps from t backwards: the batched backward's intermediates stay in cache
    for end in range(len(x_k), 0, -BLOCK):
        start = max(0, end - BLOCK)
        for A_k in per_step(h_prev[start:end], x_k[start:end]).flip(0):  # s = t − 1, …, since
            J = J @ A_k
            norms.append(J.norm())
    return torch.stack(norms[::-1])
