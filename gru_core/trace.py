"""recompute(): nn.GRU's own output, plus every intermediate term of every step.

nn.GRU is fused and exposes neither r, z nor n. A per-step Python loop recovers them but is about
twice as slow and drifts from nn.GRU in the last bits. Instead:

1. Run nn.GRU itself, one layer at a time (bitwise the same as the stacked module): this gives
   every h, so the output *is* PyTorch's.
2. The gates at step t depend only on x_t and h_{t-1}, both now known for all t, so every step's
   gates are computed at once, batched over time, with no loop.

On the CPU, nn.GRU computes W_ih x for all steps in one product and W_hh h_prev one step at a time.
Step 2 does the same: one product for the input terms, and bmm with the weight broadcast over time
for the hidden terms, which reproduces the per-step matrix-vector product bit for bit. So r, z, n
are the values nn.GRU computed internally, not approximations of them (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .model import GRUConfig
from .weights import config_of, single_layer, state_dict_of, suffix

GATES = ("r", "z", "n", "h", "h_prev", "ir", "hr", "iz", "hz", "in", "hn")


@dataclass
class Trace:
    """Every term of an nn.GRU run over one unbatched sequence of length T."""

    config: GRUConfig
    output: torch.Tensor  # (T, D*H), nn.GRU's output
    h_n: torch.Tensor  # (L*D, H), nn.GRU's final state
    layer_inputs: list[torch.Tensor]  # per layer, (T, input of that layer)
    terms: dict[tuple[int, int], dict[str, torch.Tensor]] = field(repr=False)

    @property
    def T(self) -> int:
        return self.output.shape[0]

    def gate(self, name: str, layer: int = 0, direction: int = 0) -> torch.Tensor:
        """(T, H) values of one term; index t is the input position, in both directions."""
        if name not in GATES:
            raise KeyError(f"unknown term {name!r}; choose from {', '.join(GATES)}")
        if (layer, direction) not in self.terms:
            raise KeyError(f"no layer {layer}, direction {direction} in this GRU")
        return self.terms[(layer, direction)][name]


@torch.no_grad()
def recompute(gru: nn.GRU | dict, x: torch.Tensor, h0: torch.Tensor | None = None) -> Trace:
    """x: (T, input_size), h0: (L*D, H) or None -> Trace with nn.GRU's output and every gate."""
    config, sd = config_of(gru), state_dict_of(gru)
    L, D, H = config.num_layers, config.num_directions, config.hidden_size
    dtype = sd["weight_ih_l0"].dtype
    if x.dim() != 2 or x.shape[1] != config.input_size or x.shape[0] == 0:
        raise ValueError(f"x must be (T > 0, {config.input_size}), got {tuple(x.shape)}")
    x = x.to(dtype)
    if h0 is None:
        h0 = x.new_zeros(L * D, H)
    h0 = h0.to(dtype)

    inputs, terms, finals = [], {}, []
    layer_in = x
    for layer in range(L):
        inputs.append(layer_in)
        out, h_n = single_layer(sd, layer)(layer_in, h0[layer * D : (layer + 1) * D])
        for d in range(D):
            h = out[:, d * H : (d + 1) * H]
            terms[(layer, d)] = _gates(sd, layer, d, layer_in, h, h0[layer * D + d])
        finals.append(h_n)
        layer_in = out
    return Trace(config, layer_in, torch.cat(finals), inputs, terms)


def _gates(sd, layer, d, x, h, h0) -> dict[str, torch.Tensor]:
    """All terms of one layer and direction, from its input x (T, I) and its states h (T, H)."""
    s, T, H = suffix(layer, d), x.shape[0], h.shape[1]
    W_ih, W_hh = sd["weight_ih" + s], sd["weight_hh" + s]
    b_ih, b_hh = sd.get("bias_ih" + s), sd.get("bias_hh" + s)
    if d == 1:  # run in processing order, flip back at the end
        x, h = x.flip(0), h.flip(0)
    h_all = torch.cat([h0.unsqueeze(0), h])  # (T+1, H): h_prev = h_all[:-1], h = h_all[1:]
    h_prev = h_all[:-1]

    gi = F.linear(x.unsqueeze(1), W_ih, b_ih)[:, 0]  # (T, 3H) = [ir | iz | in]
    W = W_hh.t().expand(T, H, 3 * H)  # the same (H, 3H) matrix for every step, no copy
    gh = torch.bmm(h_prev.unsqueeze(1), W)[:, 0]  # (T, 3H) = [hr | hz | hn] without bias
    if b_hh is not None:
        gh += b_hh

    rz = torch.sigmoid(gh[:, : 2 * H] + gi[:, : 2 * H])  # (T, 2H) = [r | z]
    r, z = rz[:, :H], rz[:, H:]
    n = torch.tanh(gi[:, 2 * H :] + gh[:, 2 * H :] * r)  # (T, H)

    terms = {"r": r, "z": z, "n": n, "h": h_all[1:], "h_prev": h_prev,
             "ir": gi[:, :H], "iz": gi[:, H : 2 * H], "in": gi[:, 2 * H :],
             "hr": gh[:, :H], "hz": gh[:, H : 2 * H], "hn": gh[:, 2 * H :]}
    if d == 1:
        terms = {k: v.flip(0) for k, v in terms.items()}
    return terms
