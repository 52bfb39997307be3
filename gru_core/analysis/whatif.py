"""What if one gate had another value? Set z (or r) of one unit at step t, and run on.

At step t of `layer`, one unit's z (or r) is replaced; the step is recomputed with nn.GRU's own
operations (an edited r changes that unit's candidate, n = tanh(in + r·hn)), then nn.GRU itself
runs the following steps from the edited h, and every layer above reads the edited outputs.
The run is exact with respect to the edited step: change nothing and the edited layer's h is
the actual run, bit for bit (layers above it agree to the last few bits: nn.GRU's input product
over these K steps rounds differently from its product over the whole text). The course's
Γu = 1 − z and Γr = r are set through z and r.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core import TextTrace, single_layer, update
from .summary import num


@dataclass
class WhatIf:
    t: int
    unit: int
    layer: int
    gate: str  # "z" or "r"
    actual: float  # the gate's actual value
    value: float  # the value it was set to
    steps: range  # t .. t + K
    h: torch.Tensor  # (K+1, H) the layer's actual h over the steps
    h_what_if: torch.Tensor  # (K+1, H) the same, after the edit
    probs: torch.Tensor | None  # (K+1, V) actual next-token probabilities
    probs_what_if: torch.Tensor | None  # (K+1, V) after the edit

    @property
    def drift(self) -> torch.Tensor:
        """(K+1,) ‖h_what_if − h‖ per step: how far the whole state moved."""
        return (self.h_what_if - self.h).norm(dim=1)

    @property
    def shift(self) -> torch.Tensor:
        """(K+1,) how far the next-token distribution moved at each step: the total variation
        ½·Σ|p_what_if − p|, 0 (unchanged) to 1 (disjoint)."""
        if self.probs is None:
            raise ValueError("this model has no head: it predicts nothing")
        return 0.5 * (self.probs_what_if - self.probs).abs().sum(dim=1)

    def decisive_step(self) -> int:
        """The step whose prediction the edit changes most (the first, on a tie); t when the
        model has no head."""
        return self.t if self.probs is None else self.t + int(self.shift.argmax())

    def describe_at(self, step: int, vocab: tuple[str, ...]) -> str:
        """The prediction after `step`, actual and edited, in one sentence from the numbers."""
        k = step - self.t
        p, q = self.probs[k], self.probs_what_if[k]
        was, now = int(p.argmax()), int(q.argmax())
        text = (f"After t = {step}, the edit moves the next-token distribution by "
                f"½·Σ|Δp| = {float(self.shift[k]):.3f}; the likeliest next token ")
        text += (f"stays {vocab[now]!r} ({float(p[now]):.1%} → {float(q[now]):.1%})"
                 if was == now else f"becomes {vocab[now]!r} ({float(q[now]):.1%}; was "
                 f"{vocab[was]!r} at {float(p[was]):.1%}, now {float(q[was]):.1%})")
        return text + "."

    def describe(self, vocab: tuple[str, ...], notation: str = "pytorch") -> str:
        """What the edit did, in one paragraph from the numbers; vocab: the model's tokens."""
        course = notation == "course"
        name = {"z": "Γu" if course else "z", "r": "Γr" if course else "r"}[self.gate]
        shown = (lambda v: 1 - v) if course and self.gate == "z" else (lambda v: v)
        u, last = self.unit, len(self.steps) - 1
        text = (f"Setting {name} of unit {u} at t = {self.t} from {shown(self.actual):.2f} to "
                f"{shown(self.value):.2f}: its h goes to {num(self.h_what_if[0, u])} instead of "
                f"{num(self.h[0, u])}")
        if last:
            text += (f", and {last} steps later the whole state differs by "
                     f"‖Δh‖ = {float(self.drift[last]):.3f} (unit {u}: "
                     f"{num(self.h_what_if[last, u])} instead of {num(self.h[last, u])})")
        if self.probs is not None:
            was, now = (vocab[int(p[0].argmax())] for p in (self.probs, self.probs_what_if))
            text += (f". The likeliest next token stays {now!r}" if was == now else
                     f". The likeliest next token becomes {now!r} (was {was!r})")
        return text + "."


@torch.no_grad()
def what_if(tt: TextTrace, t: int, unit: int, gate: str, value: float, layer: int = 0,
            steps: int = 20) -> WhatIf:
    if tt.config.bidirectional:
        raise ValueError("what-if runs forward: it is defined for unidirectional models")
    if gate not in ("z", "r") or not 0.0 <= value <= 1.0:
        raise ValueError("set z or r to a value in [0, 1]")
    end = min(tt.T, t + steps + 1)
    g = {k: tt.gate(k, layer, 0, t).clone() for k in ("r", "z", "n", "in", "hn", "h_prev")}
    actual = float(g[gate][unit])
    g[gate][unit] = value
    if gate == "r":  # the candidate of this unit changes with its reset gate
        g["n"] = torch.tanh(g["in"] + g["hn"] * g["r"])
    h_t = update(g["h_prev"], g["z"], g["n"])  # (H,) the edited step, in nn.GRU's order
    out = _run(tt, layer, tt.layer_inputs[layer][t + 1 : end], h_t)  # (K+1, H) from t
    h_what_if = out
    for upper in range(layer + 1, tt.config.num_layers):
        out = _run(tt, upper, out, None, start=t)
    probs = probs_what_if = None
    head = tt.model.module.head
    if head is not None:
        probs = tt.probs[t:end]
        probs_what_if = torch.softmax(head(out.contiguous()), dim=-1)
    return WhatIf(t, unit, layer, gate, actual, value, range(t, end),
                  tt.gate("h", layer, steps=slice(t, end)), h_what_if, probs, probs_what_if)


def _run(tt: TextTrace, layer: int, x: torch.Tensor, h_t: torch.Tensor | None, start: int = 0
         ) -> torch.Tensor:
    """nn.GRU's `layer` over x. Given h_t: from h_t, returning [h_t, h_t+1, ...]; else from the
    layer's actual h_prev at `start`, reading x from step `start`."""
    run = single_layer(tt.state_dict, layer)
    if h_t is not None:
        if len(x) == 0:
            return h_t.unsqueeze(0)
        out, _ = run(x, h_t.unsqueeze(0))
        return torch.cat([h_t.unsqueeze(0), out])
    h0 = tt.gate("h_prev", layer, steps=start).unsqueeze(0)
    out, _ = run(x.contiguous(), h0)
    return out
