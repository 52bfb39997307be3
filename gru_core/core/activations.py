"""The activations a Keras GRU may name, as Keras 3's torch backend computes them.

Each entry is the torch call keras/src/backend/torch/nn.py makes for that name (via
keras.activations and keras.ops), so a replay that calls it gets Keras's bits. A name not here
(softmax, glu, a custom function, an activation with arguments) is refused by the loader.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x


def _mish(x: torch.Tensor) -> torch.Tensor:  # keras.activations.Mish.static_call
    return x * torch.tanh(F.softplus(x))


ACTIVATIONS: dict[str, Activation] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": F.hardsigmoid,
    "relu": F.relu,  # activations.relu with its defaults: backend.nn.relu alone
    "relu6": F.relu6,
    "linear": _linear,
    "softsign": F.softsign,
    "softplus": F.softplus,
    "elu": lambda x: F.elu(x, 1.0),
    "selu": F.selu,
    "silu": F.silu,
    "swish": F.silu,  # Keras's alias of silu
    "hard_silu": F.hardswish,
    "hard_swish": F.hardswish,
    "gelu": F.gelu,  # activations.gelu's default: approximate=False
    "exponential": torch.exp,
    "log_sigmoid": F.logsigmoid,
    "hard_tanh": lambda x: F.hardtanh(x, -1.0, 1.0),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "mish": _mish,
}


def activation(name: object, option: str) -> Activation:
    """The function for `name`, or a ValueError that names the option and the value."""
    if isinstance(name, str) and name in ACTIVATIONS:
        return ACTIVATIONS[name]
    shown = name if isinstance(name, str) else type(name).__name__
    raise ValueError(f"{option}={shown!r} is not one the stepper replays as Keras computes it "
                     f"(it replays {', '.join(sorted(ACTIVATIONS))})")
