"""A checkpoint applied to text: one-hot encoding, the trace, and next-character probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .trace import Trace, recompute


class UnknownCharacters(ValueError):
    """Text holds characters the model has no one-hot position for."""

    def __init__(self, chars: list[str], positions: list[int]):
        self.chars, self.positions = chars, positions
        shown = ", ".join(repr(c) for c in chars)
        where = ", ".join(map(str, positions[:10])) + (" …" if len(positions) > 10 else "")
        super().__init__(f"characters not in the model's vocabulary: {shown} (positions {where})")


def encode(text: str, vocab: list[str], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """text -> one-hot (T, V). Raises UnknownCharacters naming every offending character."""
    if not text:
        raise ValueError("the text is empty")
    stoi = {c: i for i, c in enumerate(vocab)}
    bad = [i for i, c in enumerate(text) if c not in stoi]
    if bad:
        raise UnknownCharacters(sorted({text[i] for i in bad}), bad)
    idx = torch.tensor([stoi[c] for c in text])
    return F.one_hot(idx, len(vocab)).to(dtype)


@dataclass
class TextTrace:
    text: str
    vocab: list[str]
    trace: Trace
    probs: torch.Tensor  # (T, V): P(next character | text[: t + 1])

    def top_next(self, t: int, k: int = 5) -> list[tuple[str, float]]:
        return top_k(self.probs[t], self.vocab, k)


def top_k(probs: torch.Tensor, vocab: list[str], k: int = 5) -> list[tuple[str, float]]:
    """(V,) probabilities -> the k likeliest characters with their probabilities."""
    p, i = probs.topk(min(k, len(vocab)))
    return [(vocab[j], float(q)) for j, q in zip(i.tolist(), p.tolist(), strict=True)]


@torch.no_grad()
def trace_text(model, vocab: list[str], text: str) -> TextTrace:
    """model: a CharGRU (gru + head)."""
    x = encode(text, vocab, model.head.weight.dtype)
    trace = recompute(model.gru, x)
    probs = torch.softmax(model.head(trace.output), dim=-1)
    return TextTrace(text, vocab, trace, probs)
