"""How much of h_s survives to h_t along the GRU's direct path?

h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ n_t, so unrolled, h_s reaches h_t multiplied by
z_{s+1} ⊙ … ⊙ z_t (plus whatever flows back in through n). That product is the "retention":
a unit with z ≈ 1 over the span holds its value while the others move.
"""

from __future__ import annotations

import pandas as pd
import torch

from ..core import Trace


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
    # in float64: a float32 product of some hundred z near 0 underflows to 0, which a sigmoid's
    # z never is
    span = span.double()
    return span.prod(0) if len(span) else torch.ones_like(z[0], dtype=torch.float64)


def retention_curve(trace: Trace, t: int, layer: int = 0, since: int = 0) -> torch.Tensor:
    """(t − since + 1, H): row k is retention(trace, since + k, t), forward direction."""
    z = trace.gate("z", layer, 0)[since + 1 : t + 1]  # (t − since, H)
    ones = torch.ones_like(trace.gate("z", layer, 0)[:1])
    tail = z.flip(0).cumprod(0).flip(0)  # row k: z_{since+k+1} ⊙ … ⊙ z_t
    return torch.cat([tail, ones])


def min_z(trace: Trace, s: int, t: int, layer: int = 0) -> torch.Tensor:
    """(H,): the smallest z over the steps after s up to t (forward); 1 when s == t."""
    z = trace.gate("z", layer, 0)[s + 1 : t + 1]
    return z.min(0).values if len(z) else torch.ones_like(trace.gate("z", layer, 0)[0])


def holders(trace: Trace, s: int, t: int, layer: int = 0) -> pd.DataFrame:
    """Units sorted by retention from s to t (forward), with the smallest z over the span and
    their values at s and at t."""
    ret = retention(trace, s, t, layer)
    h = trace.gate("h", layer)
    df = pd.DataFrame({"unit": range(len(ret)), "retention": ret.double().numpy(),
                       "min_z": min_z(trace, s, t, layer).double().numpy(),
                       "h_s": h[s].double().numpy(), "h_t": h[t].double().numpy()})
    return df.sort_values("retention", ascending=False, ignore_index=True)


def direct_path(trace: Trace, t: int, layer: int = 0, since: int = 0) -> pd.DataFrame:
    """Per s in since..t: distance t − s and the mean and max over units of ∏ z_{s+1..t}."""
    curve = retention_curve(trace, t, layer, since).double()
    return pd.DataFrame({"s": range(since, t + 1), "distance": range(t - since, -1, -1),
                         "mean": curve.mean(1).numpy(), "max": curve.max(1).values.numpy()})
