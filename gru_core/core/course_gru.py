"""The lecture's GRU as a trainable torch module, in Keras's GRU(reset_after=False) layout.

    Γz = σ(W_z x⟨t⟩ + U_z c⟨t−1⟩ + b_z)
    Γr = σ(W_r x⟨t⟩ + U_r c⟨t−1⟩ + b_r)
    c̃  = tanh(W_c x⟨t⟩ + U_c (Γr ⊙ c⟨t−1⟩) + b_c)    reset applied before the recurrent product
    c⟨t⟩ = Γz ⊙ c⟨t−1⟩ + (1 − Γz) ⊙ c̃                 z is the share of the old state kept

Variables as Keras stores them: kernel (I, 3H) and recurrent_kernel (H, 3H), columns z | r | h,
one bias (3H,) per gate. forward() is Keras's GRUCell.call (implementation 2) in its order of
operations, except that x·kernel + bias is one product over all steps (training need not be
bitwise; tests/exact/test_course_cell.py states the measured bound). The unbatched path the stepper
uses is convention.replay_keras on cell(): Keras's own op order, bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .convention import KerasCell


class CourseGRU(nn.Module):
    """One layer of the lecture's GRU; batch first, as Keras's layer."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        H = hidden_size
        self.kernel = nn.Parameter(torch.empty(input_size, 3 * H))
        self.recurrent_kernel = nn.Parameter(torch.empty(H, 3 * H))
        self.bias = nn.Parameter(torch.zeros(3 * H))
        nn.init.xavier_uniform_(self.kernel)  # Keras's glorot_uniform
        for k in range(3):  # Keras's orthogonal, one (H, H) block per gate
            nn.init.orthogonal_(self.recurrent_kernel.data[:, k * H : (k + 1) * H])

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, I) -> (outputs (B, T, H), h_T (B, H)); h0: (B, H) or zeros."""
        H = self.hidden_size
        rk_zr, rk_h = self.recurrent_kernel[:, : 2 * H], self.recurrent_kernel[:, 2 * H :]
        matrix_x = torch.matmul(x, self.kernel) + self.bias  # every step's x·kernel + bias
        h = x.new_zeros(x.shape[0], H) if h0 is None else h0
        outputs = []
        for matrix_x_t in torch.unbind(matrix_x, dim=1):  # unbind, sliced once: 4x faster
            x_z, x_r, x_h = torch.split(matrix_x_t, H, dim=-1)  # backward than slicing per step
            matrix_inner = torch.matmul(h, rk_zr)
            z = torch.sigmoid(x_z + matrix_inner[:, :H])
            r = torch.sigmoid(x_r + matrix_inner[:, H : 2 * H])
            hh = torch.tanh(x_h + torch.matmul(r * h, rk_h))
            h = z * h + (1 - z) * hh
            outputs.append(h)
        return torch.stack(outputs, dim=1), h

    def cell(self) -> KerasCell:
        """The same variables as a KerasCell (detached), for replay_keras and the stepper."""
        return KerasCell(self.kernel.detach(), self.recurrent_kernel.detach(),
                         self.bias.detach())


class CourseLM(nn.Module):
    """One-hot characters -> CourseGRU -> a linear head (Keras's Dense: kernel = weight.T).
    The trainer's interface: idx (T, B) -> logits (T, B, V), h_n (1, B, H)."""

    def __init__(self, vocab_size: int, hidden_size: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.gru = CourseGRU(vocab_size, hidden_size)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx: torch.Tensor, h0: torch.Tensor | None = None):
        x = F.one_hot(idx.t(), self.vocab_size).to(self.gru.kernel.dtype)  # (B, T, V)
        out, h = self.gru(x, None if h0 is None else h0[0])
        return self.head(out.transpose(0, 1)), h.unsqueeze(0)  # (T, B, V), contiguous

    def keras_weights(self) -> list:
        """[kernel, recurrent_kernel, bias, dense kernel, dense bias] as numpy, in the order
        Sequential(GRU, Dense).set_weights takes them."""
        g, d = self.gru, self.head
        return [t.detach().cpu().numpy() for t in
                (g.kernel, g.recurrent_kernel, g.bias, d.weight.t().contiguous(), d.bias)]


def save_keras(path: str, model: CourseLM) -> None:
    """Write model as a .keras file with Keras itself (torch backend): Input(None, V) ->
    GRU(H, reset_after=False, return_sequences=True) -> Dense(V)."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    V, H = model.vocab_size, model.gru.hidden_size
    keras_model = keras.Sequential([
        keras.Input(shape=(None, V)),
        keras.layers.GRU(H, reset_after=False, return_sequences=True),
        keras.layers.Dense(V),
    ])
    keras_model.set_weights(model.keras_weights())
    keras_model.save(path)
