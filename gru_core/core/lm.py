"""A model applied to text: the tokens, the trace and the next-token probabilities, one object."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import torch

from .trace import ALIGN, Trace, recompute
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

    def nbytes(self) -> int:
        return super().nbytes() + (0 if self.probs is None else self.probs.nbytes)


def estimate_nbytes(model: Checkpoint, T: int) -> int:
    """What model.trace() of T tokens will hold, before running it (Trace.nbytes() after)."""
    cfg, module = model.config, model.module
    L, D, H, V = cfg.num_layers, cfg.num_directions, cfg.hidden_size, len(model.vocab)
    size = module.recurrent.weight_ih_l0.element_size()
    Hp = -(-H // (ALIGN // size)) * (ALIGN // size)  # h rows are padded to ALIGN bytes
    one_hot = module.embed is None
    dense_layers = L - 1 if one_hot else L
    per_step = (L * D * (Hp + 6 * H)  # h, hr|hz|hn, r|z|n
                + dense_layers * D * 3 * H  # ir|iz|in of layers that read dense input
                + cfg.input_size  # x
                + (L * 2 * H if D == 2 else (L - 1) * H * (Hp != H))  # what layers pass on
                + (V if module.head is not None else 0))  # next-token probabilities
    fixed = L * D * (Hp + H)  # h0's row, h_n
    if one_hot:  # the look-up table and the token index, per direction
        return size * (per_step * T + fixed + D * V * 3 * H) + D * 8 * T
    return size * (per_step * T + fixed)


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
