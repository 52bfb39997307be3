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

A Keras GRU's activation and recurrent_activation replace tanh and σ (activations.py); such a
convention is named 'keras-reset-after/relu/hard_sigmoid'.

step() is one step in the order of the equations (for the analyses); replay_keras() is Keras 3's
own computation on the torch backend (the reference: TensorFlow's Keras differs by up to ~1e-6),
op for op, so its numbers are Keras's bit for bit (tests/exact/test_keras_options.py, every option):
- reset_after=True with use_cudnn 'auto' or True and no recurrent_dropout runs
  keras/src/backend/torch/rnn.py::_fallback_gru: one matmul of all steps' inputs with the
  kernel, + bias[0], then per step h @ recurrent_kernel + bias[1], chunk z|r|h;
- otherwise (reset_after=False, use_cudnn=False, recurrent_dropout) GRUCell.call runs once per
  step in the generic RNN loop, implementation 2 (x_t @ kernel + bias, one product for the
  hidden terms) or 1 (one product per gate, which recurrent_dropout forces).
Each step's tensors are fresh allocations, as in Keras (MKL's bits depend on alignment).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .activations import activation
from .cell import update as torch_update
from .weights import LayerWeights

TERMS = ("r", "z", "n", "h", "h_prev", "ir", "hr", "iz", "hz", "in", "hn")


@dataclass(frozen=True)
class Convention:
    name: str
    framework: str  # whose numbers these are, in words for the card
    reset_after: bool  # r multiplies the hidden product (True) or h_prev before it (False)
    activation: str = "tanh"  # n's squashing function (activations.ACTIVATIONS)
    recurrent_activation: str = "sigmoid"  # r's and z's

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
        gate = activation(self.recurrent_activation, "recurrent_activation")
        squash = activation(self.activation, "activation")

        def aff(W, v, b):
            return W @ v if b is None else W @ v + b
        ir, hr = aff(w.W_ir, x, w.b_ir), aff(w.W_hr, h_prev, w.b_hr)
        r = gate(ir + hr)
        iz, hz = aff(w.W_iz, x, w.b_iz), aff(w.W_hz, h_prev, w.b_hz)
        z = gate(iz + hz)
        in_ = aff(w.W_in, x, w.b_in)
        if self.reset_after:
            hn = aff(w.W_hn, h_prev, w.b_hn)
            n = squash(in_ + r * hn)
        else:
            hn = w.W_hn @ (r * h_prev)
            n = squash(in_ + hn)
        h = self.update(h_prev, z, n)
        return {"ir": ir, "hr": hr, "r": r, "iz": iz, "hz": hz, "z": z,
                "in": in_, "hn": hn, "n": n, "h_prev": h_prev, "h": h}


# whose numbers a Keras convention's are: the tests compare with Keras 3 on the torch backend
ON_TORCH = (" on the torch backend (the reference; TensorFlow's Keras differs by up to ~1e-6, "
            "not bit for bit)")
PYTORCH = Convention("pytorch", "PyTorch nn.GRU", reset_after=True)
KERAS_RESET_AFTER = Convention("keras-reset-after", "Keras 3 GRU (reset_after=True)" + ON_TORCH,
                               reset_after=True)
KERAS_RESET_BEFORE = Convention("keras-reset-before",
                                "Keras 3 GRU (reset_after=False, the lecture's formula)"
                                + ON_TORCH, reset_after=False)


class _Conventions(dict):
    """name -> Convention. A Keras GRU with other activations is named
    'keras-reset-after/relu/hard_sigmoid' (activation, recurrent_activation) and made on demand,
    so a trace's convention, a string, says everything its step needs."""

    def __missing__(self, name: str) -> Convention:
        base, _, acts = str(name).partition("/")
        act, _, rec = acts.partition("/")
        if base not in ("keras-reset-after", "keras-reset-before") or not act or not rec:
            raise KeyError(name)
        activation(act, "activation"), activation(rec, "recurrent_activation")  # known ones
        plain = self[base]
        words = f"Keras 3 GRU (reset_after={plain.reset_after}, activation={act}, " \
            f"recurrent_activation={rec})" + ON_TORCH
        conv = Convention(name, words, plain.reset_after, act, rec)
        self[name] = conv
        return conv


CONVENTIONS = _Conventions({c.name: c for c in (PYTORCH, KERAS_RESET_AFTER, KERAS_RESET_BEFORE)})


def keras_convention(reset_after: bool, act: str = "tanh", rec: str = "sigmoid") -> Convention:
    base = "keras-reset-after" if reset_after else "keras-reset-before"
    return CONVENTIONS[base if (act, rec) == ("tanh", "sigmoid") else f"{base}/{act}/{rec}"]


@dataclass(frozen=True)
class KerasCell:
    """One Keras GRU cell's variables as Keras stores them, and the options of its layer that
    decide how Keras computes it (their names and defaults are Keras's own)."""

    kernel: torch.Tensor  # (I, 3H), columns z | r | h
    recurrent_kernel: torch.Tensor  # (H, 3H)
    bias: torch.Tensor | None  # (2, 3H) reset_after (input, recurrent); (3H,) otherwise
    trainable: bool = True  # Keras's variables then require grad, which changes torch.matmul
    reset_after: bool | None = None  # None: read from the bias's shape (True without a bias)
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    use_cudnn: bool | str = "auto"  # False: Keras's generic loop, not its fused one
    implementation: int = 2  # GRUCell's: 1 is one product per gate (recurrent_dropout sets it)
    recurrent_dropout: float = 0.0  # nothing is dropped at inference, but it picks the loop

    def __post_init__(self) -> None:
        H = self.recurrent_kernel.shape[0]
        if self.reset_after is None:
            object.__setattr__(self, "reset_after", self.bias is None or self.bias.dim() == 2)
        want = (2, 3 * H) if self.reset_after else (3 * H,)
        if self.bias is not None and tuple(self.bias.shape) != want:
            raise ValueError(f"bias has shape {tuple(self.bias.shape)}, but reset_after="
                             f"{self.reset_after} stores it as {want}")
        activation(self.activation, "activation")
        activation(self.recurrent_activation, "recurrent_activation")
        if self.use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn={self.use_cudnn!r}: Keras takes 'auto', True or False")
        if self.implementation not in (1, 2):
            raise ValueError(f"implementation={self.implementation!r}: Keras's GRUCell has 1 "
                             "and 2")
        if self.use_cudnn is True and not self.fused:
            raise ValueError("use_cudnn=True with reset_after=False or recurrent_dropout: "
                             "Keras itself refuses to run this layer (it asks for 'auto')")

    @classmethod
    def from_config(cls, c: dict, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
                    bias: torch.Tensor | None) -> KerasCell:
        """The cell of a Keras GRU layer whose config keras_refusal() accepted."""
        return cls(kernel, recurrent_kernel, bias, trainable=c.get("trainable", True) is not False,
                   reset_after=c.get("reset_after", True),
                   activation=c.get("activation", "tanh"),
                   recurrent_activation=c.get("recurrent_activation", "sigmoid"),
                   use_cudnn=c.get("use_cudnn", "auto"),
                   implementation=c.get("implementation", 2),
                   recurrent_dropout=min(1.0, max(0.0, c.get("recurrent_dropout", 0.0))))

    @property
    def H(self) -> int:
        return self.recurrent_kernel.shape[0]

    @property
    def fused(self) -> bool:
        """Keras's backend.gru (torch's _fallback_gru on the CPU) runs this layer; otherwise its
        generic RNN loop calls GRUCell.call once per step."""
        return bool(self.reset_after and self.use_cudnn in ("auto", True)
                    and not self.recurrent_dropout)

    @property
    def convention(self) -> Convention:
        return keras_convention(self.reset_after, self.activation, self.recurrent_activation)

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
def replay_keras(cell: KerasCell, x: torch.Tensor, go_backwards: bool = False,
                 h0: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """x: (1, T, I), Keras's batch-first layer input; h0: (1, H), the layer's initial_state, or
    None for zeros -> (outputs (1, T, H) in processing order, as Keras's layer returns them,
    {term: (T, H) in processing order})."""
    h0 = x.new_zeros(1, cell.H) if h0 is None else h0.reshape(1, cell.H).to(x.dtype)
    if cell.fused:
        return _fused(cell, x, go_backwards, h0)
    return _generic(cell, x, go_backwards, h0)


class _Record:
    """(T, H) buffers the step's terms are copied into, so that each step's temporaries are
    freed as in Keras's own loop (holding them all is 2x slower: the allocator never reuses)."""

    def __init__(self, like: torch.Tensor, T: int, H: int):
        self.buf = {k: like.new_empty(T, H) for k in TERMS}

    def __call__(self, t: int, **terms: torch.Tensor) -> None:
        for k, v in terms.items():
            self.buf[k][t] = v[0]


def _fused(cell: KerasCell, x: torch.Tensor, go_backwards: bool, h: torch.Tensor):
    """keras/src/backend/torch/rnn.py::_fallback_gru, the path Keras takes on the CPU."""
    kernel, rk, bias = cell.kernel, cell.recurrent_kernel, cell.bias
    gate = activation(cell.recurrent_activation, "recurrent_activation")
    squash = activation(cell.activation, "activation")
    inputs = torch.flip(x, dims=[1]) if go_backwards else x
    inputs = inputs.permute(1, 0, 2)  # (T, 1, I)
    x_proj = _matmul_3d(inputs, kernel, cell.trainable)
    if bias is not None:
        x_proj = x_proj + bias[0]
    outputs, record = [], _Record(x, inputs.shape[0], cell.H)
    for t in range(inputs.shape[0]):
        h_proj = torch.matmul(h, rk)
        if bias is not None:
            h_proj = h_proj + bias[1]
        x_z, x_r, x_h = torch.chunk(x_proj[t], 3, dim=1)
        h_z, h_r, h_h = torch.chunk(h_proj, 3, dim=1)
        z = gate(x_z + h_z)
        r = gate(x_r + h_r)
        hh = squash(x_h + r * h_h)
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


def _generic(cell: KerasCell, x: torch.Tensor, go_backwards: bool, h: torch.Tensor):
    """keras/src/backend/torch/rnn.py::rnn calling GRUCell.call once per step: implementation
    2 (one product of x_t with the whole kernel) or 1 (one product per gate), either
    reset_after. Unrolled or not, the loop runs the same ops."""
    kernel, rk, bias, H = cell.kernel, cell.recurrent_kernel, cell.bias, cell.H
    gate = activation(cell.recurrent_activation, "recurrent_activation")
    squash = activation(cell.activation, "activation")
    implementation = 1 if cell.recurrent_dropout else cell.implementation
    b_in, b_rec = (None, None) if bias is None else (bias[0], bias[1]) if cell.reset_after \
        else (bias, None)
    inputs = x.permute(1, 0, 2)  # (T, 1, I)
    if go_backwards:
        inputs = torch.flip(inputs, dims=[0])
    outputs, record = [], _Record(x, inputs.shape[0], H)
    for t, x_t in enumerate(torch.unbind(inputs)):
        if implementation == 1:
            x_z = torch.matmul(x_t, kernel[:, :H])
            x_r = torch.matmul(x_t, kernel[:, H : 2 * H])
            x_h = torch.matmul(x_t, kernel[:, 2 * H :])
            if b_in is not None:
                x_z += b_in[:H]
                x_r += b_in[H : 2 * H]
                x_h += b_in[2 * H :]
            rec_z = torch.matmul(h, rk[:, :H])
            rec_r = torch.matmul(h, rk[:, H : 2 * H])
            if b_rec is not None:
                rec_z += b_rec[:H]
                rec_r += b_rec[H : 2 * H]
        else:
            matrix_x = torch.matmul(x_t, kernel)
            if b_in is not None:
                matrix_x = torch.add(matrix_x, b_in)
            x_z, x_r, x_h = torch.split(matrix_x, H, dim=-1)
            if cell.reset_after:
                inner = torch.matmul(h, rk)
                if b_rec is not None:
                    inner += b_rec
            else:
                inner = torch.matmul(h, rk[:, : 2 * H])
            rec_z, rec_r = inner[:, :H], inner[:, H : 2 * H]
        z = gate(x_z + rec_z)
        r = gate(x_r + rec_r)
        if cell.reset_after:  # hn = W_hn h_prev + b_hn, r applied after
            if implementation == 1:
                hn = torch.matmul(h, rk[:, 2 * H :])
                if b_rec is not None:
                    hn += b_rec[2 * H :]
            else:
                hn = inner[:, 2 * H :]
            hh = squash(x_h + r * hn)
        else:  # hn = W_hn (r ⊙ h_prev), r applied before
            hn = torch.matmul(r * h, rk[:, 2 * H :])
            hh = squash(x_h + hn)
        h_prev, h = h, z * h + (1 - z) * hh
        outputs.append(h)
        record(t, ir=x_r, iz=x_z, hr=rec_r, hz=rec_z, hn=hn, r=r, z=z, n=hh, h_prev=h_prev,
               h=h, **{"in": x_h})
    return torch.stack(outputs, dim=0).permute(1, 0, 2), record.buf


# A Keras GRU layer's config, as this convention reads it: every key is either read (it can
# change the numbers, so it is replayed or refused below) or inert (it cannot).
KERAS_INERT = {"name", "trainable", "kernel_initializer", "recurrent_initializer",
               "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
               "bias_regularizer", "activity_regularizer", "kernel_constraint",
               "recurrent_constraint", "bias_constraint", "seed", "zero_output_for_mask",
               "batch_input_shape", "input_shape", "batch_size", "input_dim", "input_length"}
KERAS_READ = {"units", "activation", "recurrent_activation", "use_bias", "reset_after", "dtype",
              "return_sequences", "return_state", "go_backwards", "stateful", "unroll",
              "dropout", "recurrent_dropout", "use_cudnn", "implementation", "time_major"}


def dtype_policy(c: dict) -> str:
    """The layer's dtype policy name: a Keras 3 DTypePolicy's, or Keras 2's plain string."""
    dtype = c.get("dtype")
    if isinstance(dtype, dict):
        inner = dtype.get("config")
        dtype = inner.get("name") if isinstance(inner, dict) else None
    return "float32" if dtype is None else str(dtype)


def keras_refusal(c: dict) -> str | None:
    """Why a Keras GRU layer's config cannot be replayed bit for bit (naming the option and
    what to do), or None. The values KerasCell itself takes are checked when it is made."""
    unknown = sorted(set(c) - KERAS_INERT - KERAS_READ)
    if unknown:
        return (f"its config has option(s) {', '.join(map(repr, unknown[:5]))} that the stepper "
                "does not know, so it cannot say Keras computes what it replays")
    policy = dtype_policy(c)
    checks = [
        (policy == "float32", f"its dtype policy is {policy!r}: only float32 Keras GRUs are "
         "replayed bit for bit (a mixed or other policy computes in another precision); save "
         "it with the float32 policy"),
        (c.get("return_sequences") is True, "return_sequences=False: it gives one output per "
         "sequence, and the stepper shows one per step; save it with return_sequences=True"),
        (not c.get("return_state"), "return_state=True: the layer returns its state besides "
         "its outputs, which the next layer cannot read; save it with return_state=False"),
        (not c.get("go_backwards"), "go_backwards=True outside Bidirectional: its outputs come "
         "in reverse order; wrap it in Bidirectional, or step it from Python"),
        (not c.get("time_major"), "time_major=True: its input is (time, batch, features)"),
        (isinstance(c.get("units"), int) and 1 <= c["units"] <= 4096, "units out of 1..4096"),
        (isinstance(c.get("use_bias", True), bool) and isinstance(c.get("reset_after", True),
                                                                   bool),
         "use_bias and reset_after must be true or false"),
        (isinstance(c.get("dropout", 0.0), (int, float)) and isinstance(
            c.get("recurrent_dropout", 0.0), (int, float)), "its dropout is not a number")]
    return next((why for ok, why in checks if not ok), None)


def keras_notes(c: dict, cell: KerasCell) -> list[str]:
    """What a load says about options it replays but a reader may not expect."""
    name, notes = c.get("name", "gru"), []
    if c.get("stateful"):
        notes.append(f"'{name}' is stateful: the stepper starts from zeros, as a stateful "
                     "layer's first call (or one after reset_states) does")
    if cell.fused and "use_cudnn" not in c:
        notes.append("Keras keeps neither use_cudnn nor implementation in a file: the stepper "
                     "replays what Keras computes for the file once loaded (for "
                     "reset_after=True, its fused loop); the same model run with "
                     "use_cudnn=False before saving rounds differently (up to ~1e-5)")
    if c.get("dropout") or c.get("recurrent_dropout"):
        notes.append(f"'{name}' has dropout: Keras drops nothing at inference, nor does the "
                     "stepper")
    return notes
