"""nn.GRU's parameters under the names of its equations.

nn.GRU stores, per layer and direction, weight_ih_l{k}{suffix} = [W_ir | W_iz | W_in] stacked on
dim 0, (3H, input), and likewise weight_hh = [W_hr | W_hz | W_hn], bias_ih, bias_hh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from .model import GRUConfig

_KEY = re.compile(r"^weight_ih_l(\d+)(_reverse)?$")


@dataclass(frozen=True)
class LayerWeights:
    W_ir: torch.Tensor  # (H, I)
    W_iz: torch.Tensor  # (H, I)
    W_in: torch.Tensor  # (H, I)
    W_hr: torch.Tensor  # (H, H)
    W_hz: torch.Tensor  # (H, H)
    W_hn: torch.Tensor  # (H, H)
    b_ir: torch.Tensor | None  # (H,), None when the GRU has bias=False
    b_iz: torch.Tensor | None
    b_in: torch.Tensor | None
    b_hr: torch.Tensor | None
    b_hz: torch.Tensor | None
    b_hn: torch.Tensor | None


def state_dict_of(gru: nn.GRU | dict) -> dict[str, torch.Tensor]:
    """nn.GRU's own keys, from a module, its state_dict, or a checkpoint's 'gru.'-prefixed dict."""
    sd = gru.state_dict() if isinstance(gru, nn.Module) else gru
    if any(k.startswith("gru.") for k in sd):
        sd = {k[4:]: v for k, v in sd.items() if k.startswith("gru.")}
    return {k: v.detach() for k, v in sd.items()}


def config_of(gru: nn.GRU | dict) -> GRUConfig:
    """Read the configuration from the parameter shapes alone."""
    sd = state_dict_of(gru)
    found = [_KEY.match(k) for k in sd]
    layers = {int(m.group(1)) for m in found if m}
    if not layers or layers != set(range(len(layers))):
        raise ValueError("not an nn.GRU state dict: weight_ih_l0 .. weight_ih_l{k} not found")
    return GRUConfig(
        input_size=sd["weight_ih_l0"].shape[1],
        hidden_size=sd["weight_hh_l0"].shape[1],
        num_layers=len(layers),
        bidirectional=any(m and m.group(2) for m in found),
        bias="bias_ih_l0" in sd,
    )


def suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction == 1 else "")


def layer_weights(gru: nn.GRU | dict, layer: int = 0, direction: int = 0) -> LayerWeights:
    sd, s = state_dict_of(gru), suffix(layer, direction)
    W_ir, W_iz, W_in = sd["weight_ih" + s].chunk(3, 0)
    W_hr, W_hz, W_hn = sd["weight_hh" + s].chunk(3, 0)
    b_ir = b_iz = b_in = b_hr = b_hz = b_hn = None
    if "bias_ih" + s in sd:
        b_ir, b_iz, b_in = sd["bias_ih" + s].chunk(3, 0)
        b_hr, b_hz, b_hn = sd["bias_hh" + s].chunk(3, 0)
    return LayerWeights(W_ir, W_iz, W_in, W_hr, W_hz, W_hn, b_ir, b_iz, b_in, b_hr, b_hz, b_hn)


def single_layer(gru: nn.GRU | dict, layer: int) -> nn.GRU:
    """Layer `layer` of a stacked GRU as a 1-layer nn.GRU (both directions, same weights)."""
    sd, config = state_dict_of(gru), config_of(gru)
    tag = f"_l{layer}"
    own = {k.replace(tag, "_l0"): v for k, v in sd.items() if re.search(tag + r"(_reverse)?$", k)}
    w = own["weight_ih_l0"]
    module = nn.GRU(w.shape[1], config.hidden_size, bias=config.bias,
                    bidirectional=config.bidirectional, device="meta", dtype=w.dtype)
    module.load_state_dict(own, assign=True)
    return module
