"""A model applied to text: the tokens, the trace and the next-token probabilities, one object."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import torch

from .trace import Trace, recompute
from .vocab import Vocab

if TYPE_CHECKING:
    from .checkpoint import Checkpoint


@dataclass
class TextTrace(Trace):
    """A Trace that also carries what made it, the way TransformerLens's ActivationCache keeps
    its model: the checkpoint (vocabulary, head) and the text. Every analysis takes this one
    object (those that need only the GRU take any Trace)."""

    model: Checkpoint
    text: str
    tokens: list[str]  # the t-th token is read at step t
    probs: torch.Tensor | None  # (T, V): P(next token | tokens[: t + 1]); None without a head

    @property
    def vocab(self) -> Vocab:
        return self.model.vocab

    def top_next(self, t: int, k: int = 5) -> list[tuple[str, float]]:
        return [] if self.probs is None else top_k(self.probs[t], self.vocab, k)


def top_k(probs: torch.Tensor, vocab: Vocab, k: int = 5) -> list[tuple[str, float]]:
    """(V,) probabilities -> the k likeliest tokens with their probabilities."""
    p, i = probs.topk(min(k, len(vocab)))
    return [(vocab.tokens[j], float(q)) for j, q in zip(i.tolist(), p.tolist(), strict=True)]


@torch.no_grad()
def trace_text(model: Checkpoint, text: str) -> TextTrace:
    """Encode, run and trace the text; the probabilities are the head applied to nn.GRU's own
    output, as the module itself computes them."""
    ids = model.vocab.encode(text)
    module = model.module
    trace = recompute(module.gru, module.inputs(ids))
    probs = None
    if module.head is not None:  # a dense copy of the output, as the module's head reads it
        probs = torch.softmax(module.head(trace.output.contiguous()), dim=-1)
    return TextTrace(**{f.name: getattr(trace, f.name) for f in fields(Trace)}, model=model,
                     text=text, tokens=model.vocab.split(text), probs=probs)
