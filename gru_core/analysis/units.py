"""Which unit carries the subject's number across the clause?

For minimal pairs ("The cat, which …, w" / "The cats, which …, w") the two runs read the same
tokens from the comma on, so any difference in h there is the memory of the subject's number.
A unit ranks high when its h differs strongly, with a consistent sign, all through the clause.
"""

from __future__ import annotations

import re

import pandas as pd
import torch

from ..core import Checkpoint, TextTrace
from ..data import grammar


def clause_start(tt: TextTrace) -> int:
    """The step that reads the comma after the subject: from there the pair reads alike."""
    return tt.tokens.index(",")


def clause_difference(model: Checkpoint, singular: str, plural: str, layer: int = 0
                      ) -> torch.Tensor:
    """(span, H): h_plural − h_singular from the comma after the subject to the end."""
    sg, pl = model.trace(singular), model.trace(plural)
    s, p = clause_start(sg), clause_start(pl)
    if pl.tokens[p:] != sg.tokens[s:]:
        raise ValueError("not a minimal pair: the texts must agree after the subject")
    return pl.gate("h", layer)[p:] - sg.gate("h", layer)[s:]


def number_units(model: Checkpoint, pairs: list[tuple[str, str]], layer: int = 0,
                 threshold: float = 0.1) -> pd.DataFrame:
    """Units ranked by |mean(h_plural − h_singular)| over the clause, averaged over the pairs.

    persistence: the share of clause positions where the difference has the dominant sign and
    exceeds `threshold`, i.e. how long the unit holds the number.
    """
    means, persist = [], []
    for singular, plural in pairs:
        d = clause_difference(model, singular, plural, layer)  # (span, H)
        m = d.mean(0)
        means.append(m)
        persist.append(((d * m.sign() > threshold).double()).mean(0))
    diff = torch.stack(means).mean(0)
    table = pd.DataFrame({
        "unit": range(len(diff)),
        "difference": diff.numpy(),
        "strength": diff.abs().numpy(),
        "persistence": torch.stack(persist).mean(0).numpy(),
    })
    return table.sort_values("strength", ascending=False, ignore_index=True)


def minimal_pair_of(text: str, words: bool = False) -> tuple[str, str] | None:
    """("The cat, which …, w", "The cats, which …, w") from a sentence of the agreement grammar;
    for a word model the pair ends before the verb: "The cat, which …,"."""
    m = re.match(r"The ([a-z]+), which (.+?), w", text)
    if not m:
        return None
    noun, rest = m.group(1), text[m.end(1) : m.end() - (2 if words else 0)]
    singular = next((n for n in grammar.NOUNS if noun in (n, grammar.plural(n))),
                    noun.removesuffix("s"))
    return f"The {singular}{rest}", f"The {grammar.plural(singular)}{rest}"


def were_minus_was(tt: TextTrace) -> float:
    """How much "were" beats "was" as the next token after the last step: P('e') − P('a')
    after the final 'w' for a character model, P(were) − P(was) for a word model."""
    were, was = ("were", "was") if tt.vocab.words else ("e", "a")
    probs = tt.probs[-1]
    return float(probs[tt.vocab.index(were)] - probs[tt.vocab.index(was)])
