"""Which unit carries the subject's number across the clause?

For minimal pairs ("The cat, which …, w" / "The cats, which …, w") the two runs read the same
characters from the comma on, so any difference in h there is the memory of the subject's number.
A unit ranks high when its h differs strongly, with a consistent sign, all through the clause.
"""

from __future__ import annotations

import re

import pandas as pd
import torch

from . import grammar


def clause_difference(ckpt, singular: str, plural: str, layer: int = 0) -> torch.Tensor:
    """(span, H): h_plural − h_singular from the comma after the subject to the end."""
    s, p = singular.index(","), plural.index(",")  # "cat," / "cats,", "box," / "boxes,"
    if plural[p:] != singular[s:]:
        raise ValueError("not a minimal pair: the texts must agree after the subject")
    h_s = ckpt.trace(singular).trace.gate("h", layer)
    h_p = ckpt.trace(plural).trace.gate("h", layer)
    return h_p[p:] - h_s[s:]


def number_units(ckpt, pairs: list[tuple[str, str]], layer: int = 0, threshold: float = 0.1
                 ) -> pd.DataFrame:
    """Units ranked by |mean(h_plural − h_singular)| over the clause, averaged over the pairs.

    persistence: the share of clause positions where the difference has the dominant sign and
    exceeds `threshold`, i.e. how long the unit holds the number.
    """
    means, persist = [], []
    for singular, plural in pairs:
        d = clause_difference(ckpt, singular, plural, layer)  # (span, H)
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


def minimal_pair_of(text: str) -> tuple[str, str] | None:
    """("The cat, which …, w", "The cats, which …, w") from a sentence of the agreement grammar."""
    m = re.match(r"The ([a-z]+), which (.+?), w", text)
    if not m:
        return None
    noun, rest = m.group(1), text[m.end(1) : m.end()]
    singular = next((n for n in grammar.NOUNS if noun in (n, grammar.plural(n))),
                    noun.removesuffix("s"))
    return f"The {singular}{rest}", f"The {grammar.plural(singular)}{rest}"


def were_minus_was(tt) -> float:
    """P('e') − P('a') after the final 'w' of a TextTrace: how much "were" beats "was"."""
    probs = tt.probs[-1]
    return float(probs[tt.vocab.index("e")] - probs[tt.vocab.index("a")])
