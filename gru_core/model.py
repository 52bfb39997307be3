"""The character model every checkpoint holds: one-hot characters -> nn.GRU -> nn.Linear -> logits.

There is no embedding layer, as in the forum's worked example: with a one-hot x_t, W_ir @ x_t is
simply the column of W_ir that belongs to the character read at t.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GRUConfig:
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    bias: bool = True

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def to_dict(self) -> dict:
        return asdict(self)


class CharGRU(nn.Module):
    """nn.GRU over one-hot characters, then a linear head to next-character logits."""

    def __init__(self, config: GRUConfig, dropout: float = 0.0):
        super().__init__()
        self.config = config
        self.gru = nn.GRU(
            config.input_size,
            config.hidden_size,
            num_layers=config.num_layers,
            bias=config.bias,
            bidirectional=config.bidirectional,
            dropout=dropout if config.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(config.hidden_size * config.num_directions, config.input_size)

    def forward(self, idx: torch.Tensor, h0: torch.Tensor | None = None):
        """idx: (T, B) character indices -> logits (T, B, V), h_n (L*D, B, H)."""
        x = F.one_hot(idx, self.config.input_size).to(self.head.weight.dtype)
        out, h_n = self.gru(x, h0)
        return self.head(self.drop(out)), h_n
