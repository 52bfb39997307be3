"""What if one gate had another value? Set z (or r) of one unit at step t, and run on.

At step t of `layer`, one unit's z (or r) is replaced and the step is recomputed in the trace's
convention (convention.CONVENTIONS[trace.convention]), from the step's own terms:
- reset after the product (nn.GRU, Keras reset_after=True): an edited r changes that unit's
  candidate only, n = tanh(in + r·hn);
- reset before it (Keras reset_after=False, the lecture's formula): hn = W_hn (r ⊙ h_prev), so an
  edited r[unit] moves every unit's hn by W_hn[:, unit]·Δr·h_prev[unit], and every candidate.
Then the following steps run from the edited h, and every layer above reads the edited outputs
(through the layers a Keras model runs between its GRUs, BatchNormalization and the like):
nn.GRU itself for a PyTorch model, the convention's own step (Convention.step) for a Keras one.
The run is exact with respect to the edited step: change nothing and the edited layer's h at t
is the actual one, bit for bit (later steps, and the layers above, agree to the last few bits:
nn.GRU's input product over these K steps rounds differently from its product over the whole
text, and Convention.step's products from Keras's). The course's Γu = 1 − z and Γr = r are set
through z and r.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..core import CONVENTIONS, Convention, TextTrace, layer_input, single_layer
from ..core.lm import head_probs
from .notation import SYMBOLS, fmt, fmt_near, shown_update
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

    def describe_at(self, step: int, vocab: tuple[str, ...],
                    quote: Callable[[str], str] = repr) -> str:
        """The prediction after `step`, actual and edited, in one sentence from the numbers.
        quote: how a token is written (the app passes one that Markdown leaves inert)."""
        k = step - self.t
        p, q = self.probs[k], self.probs_what_if[k]
        was, now = int(p.argmax()), int(q.argmax())
        text = (f"After t = {step}, the edit moves the next-token distribution by "
                f"½·Σ|Δp| = {float(self.shift[k]):.3f}; the likeliest next token ")
        text += (f"stays {quote(vocab[now])} ({float(p[now]):.1%} → {float(q[now]):.1%})"
                 if was == now else f"becomes {quote(vocab[now])} ({float(q[now]):.1%}; was "
                 f"{quote(vocab[was])} at {float(p[was]):.1%}, now {float(q[was]):.1%})")
        return text + "."

    def describe(self, vocab: tuple[str, ...], notation: str = "pytorch",
                 quote: Callable[[str], str] = repr) -> str:
        """What the edit did, in one paragraph from the numbers; vocab: the model's tokens,
        written with quote()."""
        sym = SYMBOLS[notation]
        name = sym["u"] if self.gate == "z" else sym["r"]
        shown = (lambda v: shown_update(v, notation)) if self.gate == "z" else (lambda v: v)
        u, last = self.unit, len(self.steps) - 1
        text = (f"Setting {name} of unit {u} at t = {self.t} from "
                f"{fmt_near(shown(self.actual), 2)} to "
                f"{shown(self.value):.2f}: its {sym['h']} goes to "
                f"{instead(self.h_what_if[0, u], self.h[0, u])}")
        if last:
            text += (f", and at t = {self.t + last}, the last step drawn, the whole state "
                     f"differs by ‖Δ{sym['state']}‖ = {fmt_near(self.drift[last], 3)} (the "
                     f"length of the difference of the two state vectors; unit {u}: "
                     f"{instead(self.h_what_if[last, u], self.h[last, u])})")
        if self.probs is not None:
            was, now = (vocab[int(p[0].argmax())] for p in (self.probs, self.probs_what_if))
            after = f"The likeliest next token after t = {self.t}"
            text += (f". {after} stays {quote(now)}" if was == now else
                     f". {after} becomes {quote(now)} (was {quote(was)})")
        return text + "."


@torch.no_grad()
def what_if(tt: TextTrace, t: int, unit: int, gate: str, value: float, layer: int = 0,
            steps: int = 20) -> WhatIf:
    if tt.config.bidirectional:
        raise ValueError("what-if runs forward: it is defined for unidirectional models")
    if gate not in ("z", "r") or not 0.0 <= value <= 1.0:
        raise ValueError("set z or r to a value in [0, 1]")
    end = min(tt.T, t + steps + 1)
    conv = CONVENTIONS[tt.convention]
    h_t, actual = edited_step(tt, conv, t, unit, gate, value, layer)
    out = _run(tt, conv, layer, tt.layer_inputs[layer][t + 1 : end], h_t)  # (K+1, H) from t
    h_what_if = out
    for upper in range(layer + 1, tt.config.num_layers):  # through the layers between them
        out = _run(tt, conv, upper, layer_input(tt.model.module.gru, upper, out), None, start=t)
    probs = probs_what_if = None
    head = tt.model.module.head
    if head is not None:
        probs = tt.probs[t:end]
        probs_what_if = head_probs(head, out.contiguous())  # the head's own activation
    return WhatIf(t, unit, layer, gate, actual, value, range(t, end),
                  tt.gate("h", layer, steps=slice(t, end)), h_what_if, probs, probs_what_if)


def edited_step(tt: TextTrace, conv: Convention, t: int, unit: int, gate: str, value: float,
                layer: int = 0) -> tuple[torch.Tensor, float]:
    """(h at t with gate[unit] set to value, (H,); the gate's actual value), from the step's
    own terms, in the convention's formula and order."""
    g = {k: tt.gate(k, layer, 0, t).clone() for k in ("r", "z", "n", "in", "hn", "h_prev")}
    actual = float(g[gate][unit])
    delta = value - g[gate][unit]  # float32, as the gate is
    g[gate][unit] = value
    if gate == "r" and conv.reset_after:  # this unit's candidate changes with its reset gate
        g["n"] = torch.tanh(g["in"] + g["hn"] * g["r"])
    elif gate == "r":  # hn = W_hn (r ⊙ h_prev) is linear in r: one column of W_hn moves it
        w = tt.weights(layer)
        g["hn"] = g["hn"] + w.W_hn[:, unit] * (delta * g["h_prev"][unit])
        g["n"] = torch.tanh(g["in"] + g["hn"])
    return conv.update(g["h_prev"], g["z"], g["n"]), actual


def _run(tt: TextTrace, conv: Convention, layer: int, x: torch.Tensor,
         h_t: torch.Tensor | None, start: int = 0) -> torch.Tensor:
    """`layer` over x, in the trace's convention. Given h_t: from h_t, returning [h_t, h_t+1,
    ...]; else from the layer's actual h_prev at `start`, reading x from step `start`."""
    h0 = h_t if h_t is not None else tt.gate("h_prev", layer, steps=start)
    if conv.name == "pytorch":
        run = single_layer(tt.state_dict, layer)
        out = run(x.contiguous(), h0.unsqueeze(0))[0] if len(x) else x.new_empty(0, len(h0))
    else:
        out = _steps(conv, tt.weights(layer), x, h0)
    return out if h_t is None else torch.cat([h_t.unsqueeze(0), out])


def _steps(conv: Convention, w, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """(K, H): Convention.step over the K rows of x from h."""
    out = []
    for x_t in x:
        h = conv.step(x_t, h, w)["h"]
        out.append(h)
    return torch.stack(out) if out else x.new_empty(0, len(h))


def instead(new: float, old: float) -> str:
    """'0.094 instead of 0.091': as many digits as it takes (up to 8) for two different
    numbers not to read the same."""
    new, old = float(new), float(old)
    if new == old:
        return f"{num(new)}, unchanged"
    digits = 2
    while digits < 8 and fmt(new, digits) == fmt(old, digits):
        digits += 1
    return f"{fmt(new, digits)} instead of {fmt(old, digits)}"
