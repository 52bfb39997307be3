"""The model every checkpoint holds: token ids -> x_t -> nn.GRU -> nn.Linear -> next-token logits.

x_t is the one-hot vector of the token, as in the forum's worked example (W_ir x_t is then simply
the column of W_ir that belongs to the token read at t), or row c of an embedding E (W_ir x_t is
then a dense product over the embedding's dimensions).
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


CELLS = {"gru": nn.GRU, "rnn": nn.RNN}  # rnn: the plain tanh RNN the course contrasts


class TokenGRU(nn.Module):
    """nn.GRU over one-hot tokens (or an embedding of them), then an optional linear head.
    With cell="rnn" the recurrence is a plain nn.RNN (attribute `rnn`), for comparison."""

    def __init__(self, config: GRUConfig, vocab_size: int | None = None, embedding: bool = False,
                 head: bool = True, dropout: float = 0.0, cell: str = "gru",
                 head_size: int | None = None):
        super().__init__()
        vocab_size = config.input_size if vocab_size is None else vocab_size
        if not embedding and vocab_size != config.input_size:
            raise ValueError("one-hot input needs input_size == vocabulary size")
        self.config, self.vocab_size, self.cell = config, vocab_size, cell
        self.embed = nn.Embedding(vocab_size, config.input_size) if embedding else None
        setattr(self, cell, CELLS[cell](
            config.input_size,
            config.hidden_size,
            num_layers=config.num_layers,
            bias=config.bias,
            bidirectional=config.bidirectional,
            dropout=dropout if config.num_layers > 1 else 0.0,
        ))
        self.drop = nn.Dropout(dropout)
        width = config.hidden_size * config.num_directions
        # head_size: a head over classes other than the tokens (a tagger's, a classifier's)
        self.head = nn.Linear(width, head_size or vocab_size) if head else None

    @property
    def recurrent(self) -> nn.GRU | nn.RNN:
        return getattr(self, self.cell)

    def inputs(self, idx: torch.Tensor) -> torch.Tensor:
        """idx: (T, ...) token ids -> x: (T, ..., input_size)."""
        if self.embed is None:
            return F.one_hot(idx, self.vocab_size).to(self.recurrent.weight_ih_l0.dtype)
        return self.embed(idx)

    def forward(self, idx: torch.Tensor, h0: torch.Tensor | None = None):
        """idx: (T, B) token ids -> logits (T, B, V) or None without a head, h_n (L*D, B, H)."""
        out, h_n = self.recurrent(self.inputs(idx), h0)
        return (None if self.head is None else self.head(self.drop(out))), h_n
