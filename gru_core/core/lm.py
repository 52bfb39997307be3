"""A model applied to text: the tokens, the trace and the next-token probabilities, one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
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
    h0: torch.Tensor | None = field(default=None, kw_only=True)  # (L*D, H) given; None: zeros
    h0_source: str | None = field(default=None, kw_only=True)  # where h0 came from, in words
    padding: int = field(default=0, kw_only=True)  # masked steps at the end, not traced

    def padding_note(self, quote: Callable[[str], str] = repr) -> str | None:
        """What a mask left out of the trace, in words (None when nothing was); quote: how the
        layer's name from the file is written (the app passes one Markdown leaves inert)."""
        if not self.padding:
            return None
        mask = self.model.module.mask
        return (f"The last {self.padding} step(s) of the input are padding ({mask.kind} "
                f"{quote(mask.layer)}, {mask.says}): Keras's GRU carries h through them "
                f"unchanged, so the trace ends at step {self.T - 1}.")

    @property
    def starts_from(self) -> str:
        """Where h_prev at t = 0 came from, as the step card says it."""
        if self.h0 is None:
            return "h_prev at t = 0 is zeros (no initial state was given)"
        return f"h_prev at t = 0 is {self.h0_source or 'an initial state given by the caller'}"

    @property
    def vocab(self) -> Vocab:
        return self.model.vocab

    def top_next(self, t: int, k: int = 5) -> list[tuple[str, float]]:
        if self.probs is None:
            return []
        labels = self.model.labels
        if labels is None:
            return top_k(self.probs[t], self.vocab, k)
        p, i = self.probs[t].topk(min(k, len(labels)))
        return [(labels[j], float(q)) for j, q in zip(i.tolist(), p.tolist(), strict=True)]

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


def head_probs(head: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head's outputs as probabilities: its own last activation where it names one
    (a Keras head: 'sigmoid', 'softmax', or 'linear' for a single linear output), else the
    softmax of its logits. For a head that reads the last step only (a classifier), row t is
    what the model would output had the sequence ended at t."""
    if hasattr(head, "probs"):  # a Keras head applies its own activation, as Keras does
        return head.probs(x)
    y = head(x)
    kind = getattr(head, "activation", "softmax")
    if kind == "sigmoid":
        return torch.sigmoid(y)
    return y if kind == "linear" else torch.softmax(y, dim=-1)


def top_k(probs: torch.Tensor, vocab: Vocab, k: int = 5) -> list[tuple[str, float]]:
    """(V,) probabilities -> the k likeliest tokens with their probabilities."""
    p, i = probs.topk(min(k, len(vocab)))
    return [(vocab.tokens[j], float(q)) for j, q in zip(i.tolist(), p.tolist(), strict=True)]


@torch.no_grad()
def trace_text(model: Checkpoint, text: str, h0: torch.Tensor | TextTrace | None = None,
               h0_source: str | None = None) -> TextTrace:
    """Encode, run and trace the text from h0 (zeros when None); the probabilities are the head
    applied to nn.GRU's own output, as the module itself computes them. h0 may be another
    trace (its final state h_n, e.g. an encoder's) or a tensor (L*D, H) or (L*D, 1, H)."""
    h0, h0_source = initial_state(model, h0, h0_source)
    ids = model.vocab.encode(text)
    module = model.module
    tokens = model.vocab.split(text)
    mask = getattr(module, "mask", None)  # a Keras Embedding's mask_zero
    T = len(ids) if mask is None else mask.steps(ids != 0, tokens)
    trace = recompute(module.gru, module.inputs(ids[:T]), h0)
    probs = None
    if module.head is not None:  # a dense copy of the output, as the module's head reads it
        probs = head_probs(module.head, padded(trace.output, len(ids)))[:T]
    return TextTrace(**{f.name: getattr(trace, f.name) for f in fields(Trace)}, model=model,
                     text=text, tokens=tokens[:T], probs=probs, h0=h0,
                     h0_source=h0_source, padding=len(ids) - T)


def padded(output: torch.Tensor, T: int) -> torch.Tensor:
    """(T', C) -> a dense (T, C) copy, zeros after T': the head then runs on as many steps as
    Keras's does (a product's bits may depend on its number of rows, never on other rows)."""
    if output.shape[0] == T:
        return output.contiguous()
    return torch.cat([output, output.new_zeros(T - output.shape[0], output.shape[1])])


def initial_state(model: Checkpoint, h0: torch.Tensor | TextTrace | None,
                  source: str | None) -> tuple[torch.Tensor | None, str | None]:
    """h0 checked against the model, (L*D, H), and where it came from in words."""
    if h0 is None:
        return None, None
    if isinstance(h0, TextTrace):
        shown = h0.text if len(h0.text) <= 40 else h0.text[:40] + "…"
        source = source or f"the final state of {shown!r} on {h0.model.name or 'another model'}"
        h0 = h0.h_n
    if not isinstance(h0, torch.Tensor):
        raise ValueError(f"h0 must be a tensor or a trace, got {type(h0).__name__}")
    cfg = model.config
    LD, H = cfg.num_layers * cfg.num_directions, cfg.hidden_size
    if h0.dim() == 3 and h0.shape[1] == 1:  # nn.GRU's batched layout, batch of one
        h0 = h0[:, 0]
    if h0.shape != (LD, H):
        raise ValueError(
            f"h0 must be (layers x directions, hidden) = ({LD}, {H}) for "
            f"{model.name or 'this model'} ({cfg.num_layers} layer(s), "
            f"{cfg.num_directions} direction(s), {H} units), got {tuple(h0.shape)}")
    dtype = model.module.recurrent.weight_hh_l0.dtype
    if h0.dtype != dtype:
        raise ValueError(f"h0 is {str(h0.dtype)[6:]} but {model.name or 'the model'} is "
                         f"{str(dtype)[6:]}: nn.GRU takes no mixed types (convert it: h0.to(...))")
    return h0, source
