"""How much of h_s survives to h_t along the GRU's direct path?

h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ n_t, so unrolled, h_s reaches h_t multiplied by
z_{s+1} ⊙ … ⊙ z_t (plus whatever flows back in through n). That product is the "retention":
a unit with z ≈ 1 over the span holds its value while the others move.
"""

from __future__ import annotations

import torch

from .trace import Trace


def retention(trace: Trace, s: int, t: int, layer: int = 0, direction: int = 0) -> torch.Tensor:
    """(H,): product of z over the steps after s up to t, in the direction's processing order.

    Forward direction: positions s+1..t (s <= t). Reverse direction: positions t..s-1 (s >= t).
    s == t gives ones: nothing has happened yet.
    """
    z = trace.gate("z", layer, direction)
    T = z.shape[0]
    if not (0 <= s < T and 0 <= t < T):
        raise IndexError(f"s and t must lie in 0..{T - 1}")
    if direction == 0:
        if s > t:
            raise ValueError("forward direction: s must be <= t")
        span = z[s + 1 : t + 1]
    else:
        if s < t:
            raise ValueError("reverse direction: s must be >= t")
        span = z[t:s]
    return span.prod(0) if len(span) else torch.ones_like(z[0])
