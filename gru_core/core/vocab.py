"""Text in, token ids out: the one encoder the trace, the trainer and the analyses share.

A vocabulary of single characters reads text character by character (char-rnn, the forum's worked
example). A vocabulary that holds words reads it word by word: the text is split into words and
punctuation marks, and step t is the t-th of those tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from .bounds import BoundsError, loads_json_bounded

WORDS = re.compile(r"[\w'-]+|[^\w\s]", re.UNICODE)  # "cats", "don't", ",", "." ...
# A vocabulary file is untrusted: read only within what the largest vocabulary needs (100,000
# tokens, checkpoint.MAX_VOCAB, of a few characters each), before a list is built of it.
MAX_FILE_BYTES, MAX_FILE_TOKENS, MAX_JSON_DEPTH = 16 * 2**20, 100_000, 2
SPECIAL = re.compile(r"^<[^<>\s]+>$")  # <s>, </s>, <unk>, <pad>: typed as themselves in a text
UNKNOWN = ("<unk>", "<UNK>", "<Unk>")  # the unknown-token entries other tokens can be read as


class UnknownTokens(ValueError):
    """Text holds tokens the vocabulary has no entry for."""

    def __init__(self, tokens: list[str], positions: list[int], kind: str):
        self.tokens, self.positions, self.kind = tokens, positions, kind
        shown = ", ".join(repr(c) for c in tokens[:20]) + (" …" if len(tokens) > 20 else "")
        where = ", ".join(map(str, positions[:10])) + (" …" if len(positions) > 10 else "")
        super().__init__(f"{kind} not in the model's vocabulary: {shown} (positions {where})")


@dataclass(frozen=True)
class Vocab:
    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {tok: i for i, tok in enumerate(self.tokens)})
        # special tokens are matched before single characters or words, the longest first
        specials = sorted((t for t in self.tokens if SPECIAL.match(t)), key=len, reverse=True)
        pattern = "|".join(map(re.escape, specials))
        object.__setattr__(self, "_special", re.compile(pattern) if specials else None)
        object.__setattr__(self, "_words", re.compile(
            f"{pattern}|{WORDS.pattern}" if specials else WORDS.pattern, re.UNICODE))

    @property
    def words(self) -> bool:
        """True when the vocabulary reads words, not characters (special tokens aside)."""
        return any(len(tok) > 1 and not SPECIAL.match(tok) for tok in self.tokens)

    @property
    def kind(self) -> str:
        return "words" if self.words else "characters"

    def __len__(self) -> int:
        return len(self.tokens)

    def index(self, token: str) -> int:
        return self._index[token]

    @property
    def specials(self) -> tuple[str, ...]:
        """The tokens of the form <...> (<s>, </s>, <unk>, <pad>), typed as themselves."""
        return tuple(t for t in self.tokens if SPECIAL.match(t))

    @property
    def unknown(self) -> str | None:
        """The unknown-token entry (<unk>) that unreadable tokens can be read as, if any."""
        return next((t for t in UNKNOWN if t in self._index), None)

    @property
    def has_capitals(self) -> bool:
        return any(t != t.lower() for t in self.tokens if not SPECIAL.match(t))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) in `text` of every token, in reading order; a special token the
        vocabulary holds is one token wherever it is typed."""
        if self.words:
            return [m.span() for m in self._words.finditer(text)]
        spans, i = [], 0
        while i < len(text):
            m = self._special.match(text, i) if self._special is not None else None
            end = m.end() if m else i + 1
            spans.append((i, end))
            i = end
        return spans

    def split(self, text: str) -> list[str]:
        return [text[a:b] for a, b in self.spans(text)]

    def encode(self, text: str) -> torch.Tensor:
        """text -> (T,) token ids. Raises UnknownTokens naming every token it cannot read."""
        tokens = self.split(text)
        if not tokens:
            raise ValueError("the text is empty" if not text.strip() or not self.words
                             else "the text holds no words")
        bad = [i for i, tok in enumerate(tokens) if tok not in self._index]
        if bad:
            raise UnknownTokens(sorted({tokens[i] for i in bad}), bad, self.kind)
        return torch.tensor([self._index[tok] for tok in tokens])

    def without_unknown(self, text: str) -> str:
        """The text with every token the vocabulary cannot read removed."""
        out = self._replace_unknown(text, "")
        return re.sub(r"[ \t]{2,}", " ", out) if self.words else out

    def as_unknown(self, text: str) -> str:
        """The text with every token the vocabulary cannot read written as its unknown-token
        entry (<unk>): what a model trained with one reads there."""
        if self.unknown is None:
            raise ValueError("the vocabulary has no unknown-token entry (<unk>)")
        return self._replace_unknown(text, self.unknown)

    def lowered(self, text: str) -> str | None:
        """The text lower-cased, special tokens kept, where that helps: the vocabulary has no
        capitals and the text has some. None otherwise."""
        if self.has_capitals:
            return None
        parts, end = [], 0
        for a, b in self.spans(text):
            tok = text[a:b]
            parts += [text[end:a].lower(), tok if tok in self._index else tok.lower()]
            end = b
        out = "".join(parts) + text[end:].lower()
        return None if out == text else out

    def _replace_unknown(self, text: str, by: str) -> str:
        kept, end = [], 0
        for a, b in self.spans(text):
            if text[a:b] not in self._index:
                kept += [text[end:a], by]
                end = b
        kept.append(text[end:])
        return "".join(kept)


def read_vocab(data: bytes) -> list[str]:
    """A vocabulary file: a JSON list of tokens, or UTF-8 text with one token per line, where a
    line holding only a space is the space token and the escapes \\n and \\t stand for the
    newline and tab characters. Every problem is a ValueError with a short message."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the vocabulary file is larger than the {MAX_FILE_BYTES // 2**20} MiB "
                         "limit")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the vocabulary file is not UTF-8 text") from None
    is_json = text.lstrip().startswith("[")
    if data.count(b"," if is_json else b"\n") > 2 * MAX_FILE_TOKENS:  # before a list is built
        raise ValueError(f"the vocabulary file holds more than {MAX_FILE_TOKENS:,} tokens, the "
                         "limit")
    if is_json:
        try:
            tokens = loads_json_bounded(data, MAX_JSON_DEPTH, "vocabulary file")
        except BoundsError as e:
            raise ValueError(f"{e} (expected a JSON list of strings)") from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("the JSON vocabulary must be a list of strings")
        return tokens
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    escapes = {"\\n": "\n", "\\t": "\t"}
    return [escapes.get(line.rstrip("\r"), line.rstrip("\r")) for line in lines]
