"""The course's own example as data: does the verb agree with a subject a clause away?

    The cat, which already ate the fish, was full.
    The cats, which already ate the fish, were full.

Sentences come from a small grammar. Some nouns and some clause templates are held out of training,
so agreement is measured on sentences the model never saw. An "attractor" is a noun of the other
number inside the clause ("The cat, which chased the dogs, was ..."): it tempts a model that only
remembers the last noun.
"""

from __future__ import annotations

import random
import string

import torch

from ..core import Vocab
from ..core.vocab import WORDS
from .grammar import CLAUSES, NOUNS, PREDICATES, generated_clause, plural, sentence

VOCAB = sorted(set(string.ascii_letters + " .,;:!?'-\n"))
# Read word by word, a noun is its own token: a held-out noun would be an untrained embedding,
# so the word task holds out clause templates only, and adds the lecture's "fish".
WORD_NOUNS = sorted({*NOUNS, "fish"})
HELD_OUT_FRACTION = 0.2
GENERATED = 0.7  # share of training clauses drawn from the generator, the rest hand-written


def _split(items: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    items = sorted(set(items))
    rng.shuffle(items)
    k = int(len(items) * HELD_OUT_FRACTION)
    return items[k:], items[:k]


def splits(seed: int = 0, words: bool = False) -> dict[str, list[str]]:
    rng = random.Random(seed)
    train_nouns, test_nouns = _split(NOUNS, rng)
    train_clauses, test_clauses = _split(CLAUSES, rng)
    train_clauses = [c for c in train_clauses if not opens_like(c, test_clauses)]
    if words:
        train_nouns = test_nouns = WORD_NOUNS
    return {"train_nouns": train_nouns, "test_nouns": test_nouns,
            "train_clauses": train_clauses, "test_clauses": test_clauses}


def corpus(n_sentences: int, nouns: list[str], clauses: list[str], rng: random.Random,
           plain: float = 0.0, generated: float = 0.0, held_out: list[str] = ()) -> str:
    """Sentences of the grammar; a share `plain` have no clause ("The cats were tired."), a share
    `generated` of the others take a generated clause; none is or begins with a held-out
    template, so no training clause opens the way a test clause does (splits() holds the
    hand-written ones to the same rule)."""
    lines = []
    for _ in range(n_sentences):
        noun, is_plural, predicate = rng.choice(nouns), rng.random() < 0.5, rng.choice(PREDICATES)
        if rng.random() < plain:
            subject = plural(noun) if is_plural else noun
            lines.append(f"The {subject} {'were' if is_plural else 'was'} {predicate}.")
            continue
        clause = rng.choice(clauses)
        if rng.random() < generated:
            clause = _unseen_clause(rng, held_out)
        lines.append(sentence(noun, is_plural, clause, predicate, rng, nouns))
    return "\n".join(lines) + "\n"


def opens_like(clause: str, held_out: list[str]) -> bool:
    """True if the clause is a held-out template or begins with one ("sang to the {n}" / "sang")."""
    return any(clause == h or clause.startswith(h + " ") for h in held_out)


def _unseen_clause(rng: random.Random, held_out: list[str]) -> str:
    while True:
        clause = generated_clause(rng)
        if not opens_like(clause, held_out):
            return clause


def test_prefixes(seed: int = 0, n: int = 1000, attractor: bool | None = None,
                  part: str = "test", words: bool = False):
    """(prefix ending in ', w', is_plural) on held-out nouns and held-out clause templates
    (part="train": on training nouns and hand-written training clauses, for comparison)."""
    s = splits(seed, words)
    rng = random.Random(seed + 1)
    nouns, clauses = s[f"{part}_nouns"], s[f"{part}_clauses"]
    clauses = [c for c in clauses if "{n}" in c] if attractor else clauses
    out = []
    for _ in range(n):
        is_plural = rng.random() < 0.5
        text = sentence(rng.choice(nouns), is_plural, rng.choice(clauses), "x", rng, nouns,
                        attractor=attractor)
        out.append((text[: text.rindex(", w") + 3], is_plural))
    return out


def minimal_pairs(seed: int = 0, n: int = 50, attractor: bool | None = None,
                  words: bool = False) -> list[tuple[str, str]]:
    """(singular, plural) prefixes that differ only in the subject's number, ending in ', w'
    (for a word model, in ',': the verb is the next token)."""
    s = splits(seed, words)
    rng = random.Random(seed + 4)
    pairs = []
    for _ in range(n):
        noun = rng.choice(s["test_nouns"])
        sg = sentence(noun, False, rng.choice(s["test_clauses"]), "x", rng, s["test_nouns"],
                      attractor=attractor)
        sg = sg[: sg.rindex(", w") + (1 if words else 3)]
        pairs.append((sg, sg.replace(f"The {noun},", f"The {plural(noun)},", 1)))
    return pairs


@torch.no_grad()
def accuracy(model, vocab: Vocab, prefixes: list[tuple[str, bool]]) -> float:
    """Share of prefixes where "were" beats "was" exactly when the subject is plural: P('e') >
    P('a') after ', w' for characters, P(were) > P(was) after ',' for words."""
    a, e = (vocab.index("was"), vocab.index("were")) if vocab.words else (
        vocab.index("a"), vocab.index("e"))
    correct = 0
    for text, is_plural in prefixes:
        text = text.removesuffix(" w") if vocab.words else text
        logits, _ = model(vocab.encode(text).unsqueeze(1))
        correct += bool(logits[-1, 0, e] > logits[-1, 0, a]) == is_plural
    return correct / len(prefixes)


def report(model, vocab: Vocab, seed: int = 0, n: int = 1000) -> dict[str, float]:
    """Held-out agreement accuracy: all sentences, and those whose clause holds an attractor;
    "seen": training nouns and clauses, to tell not learnt from not generalised."""
    model.eval()
    w = vocab.words
    return {
        "agreement_accuracy": accuracy(model, vocab, test_prefixes(seed, n, words=w)),
        "agreement_accuracy_attractor": accuracy(model, vocab,
                                                 test_prefixes(seed, n, True, words=w)),
        "agreement_accuracy_seen": accuracy(model, vocab, test_prefixes(
            seed, n // 5, part="train", words=w)),
    }


PLAIN = 0.3  # without clauses the subject sits next to its verb: number is learnt at once, and
# then only has to be held across the clause (a curriculum inside the data)


def make_task(seed: int = 0, n_train: int = 60000, n_val: int = 2000):
    """(vocab, train_text, val_text, meta) for the trainer; validation uses held-out words."""
    s = splits(seed)
    train_text = corpus(n_train, s["train_nouns"], s["train_clauses"], random.Random(seed + 2),
                        plain=PLAIN, generated=GENERATED, held_out=s["test_clauses"])
    val_text = corpus(n_val, s["test_nouns"], s["test_clauses"], random.Random(seed + 3))
    meta = {
        "data": f"generated by gru_core.agreement (seed {seed})",
        "split": f"{len(s['test_nouns'])} nouns and {len(s['test_clauses'])} clause templates held "
        f"out of training; validation text uses only those; {PLAIN:.0%} of training sentences "
        f"have no clause; {GENERATED:.0%} of the others take a generated clause that neither is "
        "nor begins with a held-out template",
        "held_out_nouns": s["test_nouns"],
        "held_out_clauses": s["test_clauses"],
    }
    return VOCAB, train_text, val_text, meta


def make_word_task(seed: int = 0, n_train: int = 60000, n_val: int = 2000):
    """The same task read word by word: (vocab, train_text, val_text, meta). Every noun is seen
    in training; the clause templates held out are the character task's."""
    s = splits(seed, words=True)
    train_text = corpus(n_train, s["train_nouns"], s["train_clauses"], random.Random(seed + 2),
                        plain=PLAIN, generated=GENERATED, held_out=s["test_clauses"])
    val_text = corpus(n_val, s["test_nouns"], s["test_clauses"], random.Random(seed + 3))
    template_words = " ".join(CLAUSES + PREDICATES).replace("{n}", " ")
    vocab = sorted({*WORDS.findall(train_text + val_text + template_words), "was", "were",
                    *WORD_NOUNS, *map(plural, WORD_NOUNS)})
    meta = {
        "data": f"generated by gru_core.data.agreement (seed {seed}), read word by word",
        "split": f"{len(s['test_clauses'])} clause templates held out of training; validation "
        f"text uses only those; every noun is seen in training (a word model cannot know the "
        f"number of a noun it never saw); {PLAIN:.0%} of training sentences have no clause",
        "held_out_clauses": s["test_clauses"],
    }
    return vocab, train_text, val_text, meta

