"""A cell convention: how one GRU step is computed and how its weights are stored.

Three conventions, one set of term names (r, z, n, h, h_prev; ir iz in the input parts, hr hz hn
the hidden parts). In all three z is the share of the old state kept: h = z ⊙ h_prev + (1 − z) ⊙ n.

    pytorch             nn.GRU. weight_ih (3H, I) rows r|z|n, weight_hh, bias_ih, bias_hh.
                        n = tanh(in + r ⊙ hn), hn = W_hn h_prev + b_hn   (reset after the product)
    keras-reset-after   Keras GRU(reset_after=True): the same math in Keras's layout, kernel
                        (I, 3H) and recurrent_kernel (H, 3H) columns z|r|h, bias (2, 3H).
    keras-reset-before  Keras GRU(reset_after=False), the lecture's formula:
                        n = tanh(in + hn), hn = U_h (r ⊙ h_prev)         (reset before the product)
                        one bias per gate, bias (3H,); hr, hz carry no bias.

step() is one step in the order of the equations (for the analyses); replay_keras() is Keras 3's
own computation on the torch backend, op for op, so its numbers are Keras's bit for bit:
- reset_after=True runs keras/src/backend/torch/rnn.py::_fallback_gru: one matmul of all steps'
  inputs with the kernel, + bias[0], then per step h @ recurrent_kernel + bias[1], chunk z|r|h;
- reset_after=False runs GRUCell.call (implementation 2) once per step in the generic RNN loop:
  x_t @ kernel + bias, h @ recurrent_kernel[:, :2H], then (r * h) @ recurrent_kernel[:, 2H:].
Each step's tensors are fresh allocations, as in Keras (MKL's bits depend on alignment).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cell import update as torch_update
from .weights import LayerWeights

TERMS = ("r", "z", "n", "h", "h_prev", "ir", "hr", "iz", "hz", "in", "hn")


@dataclass(frozen=True)
class Convention:
    name: str
    framework: str  # whose numbers these are, in words for the card
    reset_after: bool  # r multiplies the hidden product (True) or h_prev before it (False)

    def update(self, h_prev: torch.Tensor, z: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """h = z ⊙ h_prev + (1 − z) ⊙ n in the framework's own order of operations: nn.GRU's
        (h_prev − n) ⊙ z + n, Keras's z ⊙ h_prev + (1 − z) ⊙ n (the same number exactly, not
        the same bits in float32)."""
        if self.name == "pytorch":
            return torch_update(h_prev, z, n)  # cell.py: nn.GRU's order, written once
        return z * h_prev + (1 - z) * n

    @property
    def update_form(self) -> str:
        """update()'s order of operations, in words for the card."""
        return "(h_prev − n)·z + n" if self.name == "pytorch" else "z·h_prev + (1 − z)·n"

    def step(self, x: torch.Tensor, h_prev: torch.Tensor, w: LayerWeights
             ) -> dict[str, torch.Tensor]:
        """x: (I,), h_prev: (H,) -> every term of the step, each (H,), in the equations' order."""
        def aff(W, v, b):
            return W @ v if b is None else W @ v + b
        ir, hr = aff(w.W_ir, x, w.b_ir), aff(w.W_hr, h_prev, w.b_hr)
        r = torch.sigmoid(ir + hr)
        iz, hz = aff(w.W_iz, x, w.b_iz), aff(w.W_hz, h_prev, w.b_hz)
        z = torch.sigmoid(iz + hz)
        in_ = aff(w.W_in, x, w.b_in)
        if self.reset_after:
            hn = aff(w.W_hn, h_prev, w.b_hn)
            n = torch.tanh(in_ + r * hn)
        else:
            hn = w.W_hn @ (r * h_prev)
            n = torch.tanh(in_ + hn)
        h = self.update(h_prev, z, n)
        return {"ir": ir, "hr": hr, "r": r, "iz": iz, "hz": hz, "z": z,
                "in": in_, "hn": hn, "n": n, "h_prev": h_prev, "h": h}


PYTORCH = Convention("pytorch", "PyTorch nn.GRU", reset_after=True)
KERAS_RESET_AFTER = Convention("keras-reset-after", "Keras 3 GRU (reset_after=True)",
                               reset_after=True)
KERAS_RESET_BEFORE = Convention("keras-reset-before",
                                "Keras 3 GRU (reset_after=False, the lecture's formula)",
                                reset_after=False)
CONVENTIONS = {c.name: c for c in (PYTORCH, KERAS_RESET_AFTER, KERAS_RESET_BEFORE)}


def keras_convention(reset_after: bool) -> Convention:
    return KERAS_RESET_AFTER if reset_after else KERAS_RESET_BEFORE


@dataclass(frozen=True)
class KerasCell:
    """One Keras GRU cell's variables as Keras stores them."""

    kernel: torch.Tensor  # (I, 3H), columns z | r | h
    recurrent_kernel: torch.Tensor  # (H, 3H)
    bias: torch.Tensor | None  # (2, 3H) reset_after (input, recurrent); (3H,) otherwise
    trainable: bool = True  # Keras's variables then require grad, which changes torch.matmul

    @property
    def H(self) -> int:
        return self.recurrent_kernel.shape[0]

    @property
    def reset_after(self) -> bool:
        return self.bias is None or self.bias.dim() == 2

    def torch_layout(self, layer: int, reverse: bool) -> dict[str, torch.Tensor]:
        """The same numbers under nn.GRU's keys and layout (rows r | z | n). For reset_before
        the one bias per gate is bias_ih and bias_hh is zero (nn.GRU cannot run this cell)."""
        def rzn(m: torch.Tensor) -> torch.Tensor:  # z | r | h columns -> r | z | n
            z, r, h = m.chunk(3, -1)
            return torch.cat([r, z, h], -1)
        s = f"_l{layer}" + ("_reverse" if reverse else "")
        sd = {"weight_ih" + s: rzn(self.kernel).t().contiguous(),
              "weight_hh" + s: rzn(self.recurrent_kernel).t().contiguous()}
        if self.bias is not None:
            b = self.bias if self.bias.dim() == 2 else torch.stack(
                [self.bias, torch.zeros_like(self.bias)])
            sd["bias_ih" + s], sd["bias_hh" + s] = rzn(b[0]), rzn(b[1])
        return sd


@torch.no_grad()
def replay_keras(cell: KerasCell, x: torch.Tensor, go_backwards: bool = False
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """x: (1, T, I), Keras's batch-first layer input -> (outputs (1, T, H) in processing order,
    as Keras's layer returns them, {term: (T, H) in processing order})."""
    if cell.reset_after:
        return _reset_after(cell, x, go_backwards)
    return _reset_before(cell, x, go_backwards)


class _Record:
    """(T, H) buffers the step's terms are copied into, so that each step's temporaries are
    freed as in Keras's own loop (holding them all is 2x slower: the allocator never reuses)."""

    def __init__(self, like: torch.Tensor, T: int, H: int):
        self.buf = {k: like.new_empty(T, H) for k in TERMS}

    def __call__(self, t: int, **terms: torch.Tensor) -> None:
        for k, v in terms.items():
            self.buf[k][t] = v[0]


def _reset_after(cell: KerasCell, x: torch.Tensor, go_backwards: bool):
    """keras/src/backend/torch/rnn.py::_fallback_gru, the path Keras takes on the CPU."""
    kernel, rk, bias = cell.kernel, cell.recurrent_kernel, cell.bias
    inputs = torch.flip(x, dims=[1]) if go_backwards else x
    inputs = inputs.permute(1, 0, 2)  # (T, 1, I)
    x_proj = _matmul_3d(inputs, kernel, cell.trainable)
    if bias is not None:
        x_proj = x_proj + bias[0]
    h = x.new_zeros(1, cell.H)
    outputs, record = [], _Record(x, inputs.shape[0], cell.H)
    for t in range(inputs.shape[0]):
        h_proj = torch.matmul(h, rk)
        if bias is not None:
            h_proj = h_proj + bias[1]
        x_z, x_r, x_h = torch.chunk(x_proj[t], 3, dim=1)
        h_z, h_r, h_h = torch.chunk(h_proj, 3, dim=1)
        z = torch.sigmoid(x_z + h_z)
        r = torch.sigmoid(x_r + h_r)
        hh = torch.tanh(x_h + r * h_h)
        h_prev, h = h, z * h + (1.0 - z) * hh
        outputs.append(h)
        record(t, ir=x_r, iz=x_z, hr=h_r, hz=h_z, hn=h_h, r=r, z=z, n=hh, h_prev=h_prev, h=h,
               **{"in": x_h})
    return torch.stack(outputs, dim=0).permute(1, 0, 2), record.buf


def _matmul_3d(a: torch.Tensor, w: torch.Tensor, w_requires_grad: bool) -> torch.Tensor:
    """torch.matmul((T, 1, I), (I, 3H)) as Keras runs it. ATen folds a 3-D x 2-D product into
    one mm when the weight requires grad (Keras's trainable variables do, even under no_grad):
    x.reshape(-1, I) is then a fresh copy. Otherwise a permuted x is not foldable and matmul
    runs bmm with the weight broadcast, which rounds differently."""
    if w_requires_grad:
        return torch.mm(a.reshape(-1, a.shape[-1]), w).view(*a.shape[:-1], w.shape[-1])
    return torch.matmul(a, w)


def _reset_before(cell: KerasCell, x: torch.Tensor, go_backwards: bool):
    """GRUCell.call (implementation 2, reset_after=False) in Keras's generic RNN loop."""
    kernel, rk, bias, H = cell.kernel, cell.recurrent_kernel, cell.bias, cell.H
    inputs = x.permute(1, 0, 2)  # (T, 1, I)
    if go_backwards:
        inputs = torch.flip(inputs, dims=[0])
    h = x.new_zeros(1, H)
    outputs, record = [], _Record(x, inputs.shape[0], H)
    for t, x_t in enumerate(torch.unbind(inputs)):
        matrix_x = torch.matmul(x_t, kernel)
        if bias is not None:
            matrix_x = torch.add(matrix_x, bias)
        x_z, x_r, x_h = torch.split(matrix_x, H, dim=-1)
        matrix_inner = torch.matmul(h, rk[:, : 2 * H])
        recurrent_z, recurrent_r = matrix_inner[:, :H], matrix_inner[:, H : 2 * H]
        z = torch.sigmoid(x_z + recurrent_z)
        r = torch.sigmoid(x_r + recurrent_r)
        recurrent_h = torch.matmul(r * h, rk[:, 2 * H :])
        hh = torch.tanh(x_h + recurrent_h)
        h_prev, h = h, z * h + (1 - z) * hh
        outputs.append(h)
        record(t, ir=x_r, iz=x_z, hr=recurrent_r, hz=recurrent_z, hn=recurrent_h, r=r, z=z,
               n=hh, h_prev=h_prev, h=h, **{"in": x_h})
    return torch.stack(outputs, dim=0).permute(1, 0, 2), record.buf
