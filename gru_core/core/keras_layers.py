"""The Keras layers a real GRU model has around its GRUs, replayed on torch op for op as Keras 3
runs them on its torch backend (keras/src/backend/torch/nn.py), so their outputs are Keras's bits.

Each layer is a small nn.Module taking and returning Keras's batch-first (1, T, C) tensor:
Conv1D (valid or same padding, channels_last), BatchNormalization at inference (moving
statistics), the element-wise activations (Activation, ReLU), Dropout (Keras skips it at
inference), MaxPooling1D / AveragePooling1D ('valid'), Masking, and the heads: Dense on the sequence
(one product over all steps) or TimeDistributed(Dense) (one product per step, as Keras loops).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {  # keras.activations -> its torch backend op
    "linear": lambda x: x,
    "relu": F.relu,
    "relu6": F.relu6,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def activation(name: object) -> callable | None:
    """Keras's activation by its config name (None when it is not element-wise here)."""
    return ACTIVATIONS.get(name if name is not None else "linear")


class Activation(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        self.name, self.fn = name, ACTIVATIONS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class Identity(nn.Module):
    """Dropout, SpatialDropout1D, GaussianNoise...: what Keras skips at inference."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Masking(nn.Module):
    """keras Masking.call: a frame whose every feature equals mask_value is masked and set to
    0 (ops.where, so a kept frame keeps its bits); keep(x) is the mask the GRUs after it read."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def keep(self, x: torch.Tensor) -> torch.Tensor:
        """x: (1, T, C) -> (1, T) bool, True where a frame is kept."""
        return torch.any(torch.ne(x, self.value), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(self.keep(x).unsqueeze(-1), x, 0)


# The layers that pass a mask on to the next (supports_masking in Keras); any other layer before
# a GRU (Conv1D, pooling, SpatialDropout1D) drops it, and the GRUs after it read every step.
PASSES_MASK = ("BatchNormalization", "Activation", "ReLU", "Dropout", "GaussianNoise", "Masking")


@dataclass(frozen=True)
class Mask:
    """The mask a Keras model's GRUs read, and the layer that makes it: an Embedding with
    mask_zero=True (token id 0 masked) or a Masking layer (a frame equal to `value` in every
    feature). Keras's GRU carries h through a masked step unchanged, so padding at the end
    leaves every step before it as without a mask: those are the steps the stepper traces.
    A masked step followed by a kept one would be skipped, which is not replayed."""

    kind: str  # "Embedding" or "Masking": the class of the layer that makes it
    layer: str  # that layer's name, as the user gave it
    value: float  # the value masked: 0 (a token id) or Masking's mask_value

    def steps(self, keep: torch.Tensor, names: list[str] | None = None) -> int:
        """keep: (T,) bool -> how many steps come before the padding at the end. Raises
        MaskedStep at the first masked step that has a kept step after it (names: the tokens,
        to name it)."""
        keep = keep.reshape(-1)
        kept = int(keep.sum())
        if kept and bool(keep[:kept].all()):
            return kept
        t = None if not kept else int((~keep).nonzero()[0])
        raise MaskedStep(self, t, None if t is None or names is None else names[t])

    @property
    def says(self) -> str:
        return ("mask_zero=True: token id 0 is padding" if self.kind == "Embedding"
                else f"mask_value={self.value:g}: a frame equal to it in every feature is "
                "padding")


class MaskedStep(ValueError):
    """A masked step with kept steps after it (t), or every step masked (t None). say(quote)
    writes the reason with the names from the file (the layer's, the token) quoted as the
    caller needs; str() quotes them with repr."""

    def __init__(self, mask: Mask, t: int | None, token: str | None = None):
        self.mask, self.t, self.token = mask, t, token
        super().__init__(self.say(repr))

    def say(self, quote: Callable[[str], str]) -> str:
        m = self.mask
        layer = f"{m.kind} {quote(m.layer)}"
        if self.t is None:
            return f"every step is masked by {layer} ({m.says}): there is no step to trace"
        what = (f"frame {self.t}, equal to mask_value {m.value:g} in every feature,"
                if m.kind == "Masking" else "token id 0" if self.token is None
                else f"token id 0 ({quote(self.token)})")
        return (f"{what} at step {self.t} is followed by steps that are not masked: {layer} "
                f"has {m.says}, so Keras would skip that step in the middle (its GRU carries h "
                "through it unchanged), and the stepper does not replay skipped steps; it "
                "honours padding at the end only. Remove it from the middle of the input")


class Conv1D(nn.Module):
    """keras Conv.call: ops.conv (channels first, permuted kernel), + bias, activation."""

    def __init__(self, kernel: torch.Tensor, bias: torch.Tensor | None, strides: int,
                 padding: str, dilation: int, act: str):
        super().__init__()
        self.kernel, self.bias = kernel, bias  # (k, C_in, C_out), (C_out,)
        self.strides, self.padding, self.dilation = strides, padding, dilation
        self.act = ACTIVATIONS[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = torch.permute(x, (0, 2, 1)).contiguous()  # (1, C_in, T)
        kernel = torch.permute(self.kernel, (2, 1, 0))  # (C_out, C_in, k)
        if self.padding == "same":
            inputs = _same_padding(inputs, kernel.shape[2], self.strides, self.dilation)
        y = F.conv1d(inputs, kernel, stride=(self.strides,), padding=0,
                     dilation=(self.dilation,), groups=1)
        y = torch.permute(y, (0, 2, 1))  # (1, T', C_out)
        if self.bias is not None:
            y = torch.add(y, torch.reshape(self.bias, (1, 1, -1)))
        return self.act(y)


def _same_padding(x: torch.Tensor, k: int, stride: int, dilation: int) -> torch.Tensor:
    """keras/src/backend/torch/nn.py::_apply_same_padding for one spatial dim."""
    size = x.shape[-1]
    if stride > 1:
        total = max(dilation * (k - 1) + 1 - (size - 1) % stride - 1, 0)
    else:
        total = dilation * (k - 1)
    left = total // 2
    return F.pad(x, (left, total - left), value=0)


class BatchNorm(nn.Module):
    """BatchNormalization at inference: ops.batch_normalization with the moving statistics,
    (x - mean) * (rsqrt(var + eps) * gamma) + beta, in the torch backend's order."""

    def __init__(self, gamma: torch.Tensor | None, beta: torch.Tensor | None,
                 mean: torch.Tensor, var: torch.Tensor, epsilon: float):
        super().__init__()
        self.gamma = torch.ones_like(var) if gamma is None else gamma
        self.beta = torch.zeros_like(mean) if beta is None else beta
        self.mean, self.var, self.epsilon = mean, var, epsilon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1,) * (x.dim() - 1) + (-1,)
        mean, var = self.mean.reshape(shape), self.var.reshape(shape)
        scale, offset = self.gamma.reshape(shape), self.beta.reshape(shape)
        return x.subtract(mean).mul_(var.add(self.epsilon).rsqrt_().mul(scale)).add_(offset)


class Pool1D(nn.Module):
    """MaxPooling1D / AveragePooling1D, 'valid' padding, channels_last."""

    def __init__(self, kind: str, pool: int, strides: int):
        super().__init__()
        self.kind, self.pool, self.strides = kind, pool, strides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = torch.permute(x, (0, 2, 1)).contiguous()
        if self.kind == "max":
            y = F.max_pool1d(inputs, kernel_size=(self.pool,), stride=(self.strides,), padding=0)
        else:
            y = F.avg_pool1d(inputs, kernel_size=(self.pool,), stride=(self.strides,), padding=0,
                             count_include_pad=False)
        return torch.permute(y, (0, 2, 1))


def conv_length(T: int, k: int, strides: int, padding: str, dilation: int = 1) -> int:
    """The number of frames a Conv1D or pooling layer makes of T."""
    if padding == "same":
        return math.ceil(T / strides)
    return max((T - dilation * (k - 1) - 1) // strides + 1, 0)


class Dense(nn.Module):
    """Dense.call: ops.matmul(x, kernel) then ops.add(bias), before its activation. On Keras's
    (1, T, C) sequence the weight, which requires grad, folds the product into one mm over the
    steps (as ATen does for Keras's trainable variables); TimeDistributed(Dense), and a Dense
    after a GRU that returns its last state only, run it on one step's (1, C) row at a time."""

    def __init__(self, kernel: torch.Tensor, bias: torch.Tensor | None, per_step: bool):
        super().__init__()
        self.kernel, self.bias, self.per_step = kernel, bias, per_step  # (C, V), (V,)
        self.out_features = kernel.shape[1]

    def _add(self, y: torch.Tensor) -> torch.Tensor:
        return torch.add(y, self.bias) if self.bias is not None else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (T, C) -> (T, V)."""
        if self.per_step:  # TimeDistributed: a Python loop over the steps, then ops.stack
            return torch.cat([self._add(torch.matmul(x[i : i + 1], self.kernel))
                              for i in range(x.shape[0])])
        return self._add(torch.mm(x.reshape(-1, x.shape[-1]), self.kernel))


FINAL = {"softmax": lambda y: F.softmax(y, dim=-1), "sigmoid": torch.sigmoid,
         "linear": lambda y: y}


class KerasHead(nn.Module):
    """What a Keras model runs after its last GRU: layers before the head (BatchNormalization,
    Dropout), Dense, and its activation(s). `activation` names the last one: 'softmax' or
    'sigmoid' as the model's own, or 'linear' for a single linear output. forward() stops
    before it (logits, as nn.Linear's callers expect); probs() applies it as Keras does: on
    each step's row for a per-step head (an activation's bits depend on the tensor's length)."""

    def __init__(self, before: list[nn.Module], dense: Dense, middle: str, activation: str):
        super().__init__()
        self.before, self.dense = Sequence(before), dense
        self.middle, self.activation = ACTIVATIONS[middle], activation
        self.out_features = dense.out_features
        self.weight = dense.kernel.t()  # (V, C): nn.Linear's layout, for readers of the head

    def _run(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        flat = x.dim() == 1
        x = self.before(x.reshape(-1, x.shape[-1]))
        last = FINAL[self.activation] if final else FINAL["linear"]
        if self.dense.per_step:
            y = torch.cat([last(self.middle(self.dense(x[i : i + 1])))
                           for i in range(x.shape[0])])
        else:
            y = last(self.middle(self.dense(x)))
        return y[0] if flat else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (T, C) or (C,) -> (T, V) or (V,), before the last activation."""
        return self._run(x, final=False)

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """x: (T, C) or (C,) -> the head's outputs, its last activation applied."""
        return self._run(x, final=True)


class Sequence(nn.Module):
    """Layers run one after the other on (1, T, C)."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)
