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

NOUNS = """
cat dog bird horse cow goat sheep pig duck frog snake lion tiger bear wolf fox rabbit monkey
donkey camel zebra whale shark eagle parrot owl crow hawk swan turtle lizard spider beetle ant
bee wasp moth worm crab snail squirrel beaver otter badger kitten puppy pony lamb farmer baker
teacher doctor nurse driver pilot sailor soldier singer dancer writer painter player runner
worker miner hunter student lawyer judge artist actor clerk guard cook waiter king queen prince
princess knight wizard giant dragon robot pirate captain chief neighbor friend cousin brother
sister uncle stranger visitor tourist guest customer officer ranger boy girl parent grandparent
twin traveler merchant banker builder plumber gardener book lamp chair table door window bottle
cup plate spoon bowl basket bucket candle clock phone radio camera computer printer engine wagon
truck bicycle boat train plane rocket car van bus tractor ladder hammer shovel rope chain key
lock coin ring necklace bracelet hat coat shirt shoe boot glove scarf sock jacket sweater
blanket pillow towel curtain rock stone hill river lake pond island mountain valley forest
garden field road bridge tower castle palace cottage barn cabin house school shop market bank
office factory farm apple banana carrot onion melon lemon orange cookie cake pie sandwich egg
biscuit letter song poem story picture painting map flag sign ticket gift toy doll ball kite
drum guitar piano violin trumpet flute bell whistle tent cart canoe sled
""".split()

CLAUSES = """
ran
slept
sang
we saw
you found
they sold
I liked
saw the {n}
met the {n}
bit the {n}
chased the {n}
ate the {n}
already ate the {n}
sat near the {n}
slept under the old {n}
watched the {n} all night
had been found by the {n}
belonged to the {n} next door
the {n} had painted last summer
nobody in the village had seen before
my grandmother gave to the {n}
stood quietly beside the {n}
ran across the {n} yesterday
looked at the {n} for a long time
came from a small town near the sea
everyone liked
the {n} talked about
we bought at the market
hid behind the {n}
jumped over the tall {n}
I saw in the garden this morning
carried the heavy {n} up the hill
followed the {n} into the dark forest
lived with the {n} for many years
the children loved
fell into the river
waited for the {n} at the station
my friend met at the party last week
had been broken by the {n} long ago
rested after a long and difficult day
sang to the {n} every evening
visited the {n} on sunday
they found under the bridge near the {n}
the teacher showed to the class
chased the {n} and the {n}
played with the {n} in the yard
nobody wanted
had been made by hand
had traveled far across the mountains
made the {n} laugh
""".strip().splitlines()

# A noun that also appears inside a clause template ("fell into the river") would leak into
# training even when held out, and a singular ending in s ("bus", "princess") would look plural.
NOUNS = sorted(n for n in set(NOUNS) - {w for c in CLAUSES for w in c.split()}
               if not n.endswith("s"))

PREDICATES = """
tired|happy|full|late|hungry|ready|quiet|broken|very old|quite small|still asleep|in the barn|
on the table|too loud|very expensive|lost again|covered in mud|not there|easy to find|
surprisingly heavy|bright red|very clean|far away|back home|safe at last
""".replace("\n", "").split("|")

VOCAB = sorted(set(string.ascii_letters + " .,;:!?'-\n"))
HELD_OUT_FRACTION = 0.2


def plural(noun: str) -> str:
    return noun + "s"


def _split(items: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    items = sorted(set(items))
    rng.shuffle(items)
    k = int(len(items) * HELD_OUT_FRACTION)
    return items[k:], items[:k]


def sentence(noun: str, is_plural: bool, clause: str, predicate: str, rng: random.Random,
             nouns: list[str], attractor: bool | None = None) -> str:
    """One sentence. attractor=True forces the clause's nouns to the other number."""
    body = clause
    while "{n}" in body:
        # attractor=True: the clause's nouns take the other number; False: the same; None: either
        inner_plural = rng.random() < 0.5 if attractor is None else is_plural != attractor
        n = rng.choice(nouns)
        body = body.replace("{n}", plural(n) if inner_plural else n, 1)
    subject = plural(noun) if is_plural else noun
    verb = "were" if is_plural else "was"
    return f"The {subject}, which {body}, {verb} {predicate}."


def splits(seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    train_nouns, test_nouns = _split(NOUNS, rng)
    train_clauses, test_clauses = _split(CLAUSES, rng)
    return {"train_nouns": train_nouns, "test_nouns": test_nouns,
            "train_clauses": train_clauses, "test_clauses": test_clauses}


def corpus(n_sentences: int, nouns: list[str], clauses: list[str], rng: random.Random,
           plain: float = 0.0) -> str:
    """Sentences of the grammar; a share `plain` have no clause ("The cats were tired.")."""
    lines = []
    for _ in range(n_sentences):
        noun, is_plural, predicate = rng.choice(nouns), rng.random() < 0.5, rng.choice(PREDICATES)
        if rng.random() < plain:
            subject = plural(noun) if is_plural else noun
            lines.append(f"The {subject} {'were' if is_plural else 'was'} {predicate}.")
        else:
            lines.append(sentence(noun, is_plural, rng.choice(clauses), predicate, rng, nouns))
    return "\n".join(lines) + "\n"


def test_prefixes(seed: int = 0, n: int = 1000, attractor: bool | None = None):
    """(prefix ending in ', w', is_plural) on held-out nouns and held-out clause templates."""
    s = splits(seed)
    rng = random.Random(seed + 1)
    clauses = [c for c in s["test_clauses"] if "{n}" in c] if attractor else s["test_clauses"]
    out = []
    for _ in range(n):
        is_plural = rng.random() < 0.5
        text = sentence(rng.choice(s["test_nouns"]), is_plural, rng.choice(clauses), "x", rng,
                        s["test_nouns"], attractor=attractor)
        out.append((text[: text.rindex(", w") + 3], is_plural))
    return out


def minimal_pairs(seed: int = 0, n: int = 50, attractor: bool | None = None
                  ) -> list[tuple[str, str]]:
    """(singular, plural) prefixes ending in ', w' that differ only in the subject's number."""
    s = splits(seed)
    rng = random.Random(seed + 4)
    pairs = []
    for _ in range(n):
        noun = rng.choice(s["test_nouns"])
        sg = sentence(noun, False, rng.choice(s["test_clauses"]), "x", rng, s["test_nouns"],
                      attractor=attractor)
        sg = sg[: sg.rindex(", w") + 3]
        pairs.append((sg, sg.replace(f"The {noun},", f"The {plural(noun)},", 1)))
    return pairs


@torch.no_grad()
def accuracy(model, vocab: list[str], prefixes: list[tuple[str, bool]]) -> float:
    """Share of prefixes where P('e') > P('a') exactly when the subject is plural ("were"/"was")."""
    a, e = vocab.index("a"), vocab.index("e")
    correct = 0
    for text, is_plural in prefixes:
        logits, _ = model(torch.tensor([vocab.index(c) for c in text]).unsqueeze(1))
        correct += bool(logits[-1, 0, e] > logits[-1, 0, a]) == is_plural
    return correct / len(prefixes)


def report(model, vocab: list[str], seed: int = 0, n: int = 1000) -> dict[str, float]:
    """Held-out agreement accuracy: all sentences, and those whose clause holds an attractor."""
    model.eval()
    return {
        "agreement_accuracy": accuracy(model, vocab, test_prefixes(seed, n)),
        "agreement_accuracy_attractor": accuracy(model, vocab, test_prefixes(seed, n, True)),
    }


PLAIN = 0.3  # without clauses the subject sits next to its verb: number is learnt at once, and
# then only has to be held across the clause (a curriculum inside the data)


def make_task(seed: int = 0, n_train: int = 40000, n_val: int = 2000):
    """(vocab, train_text, val_text, meta) for the trainer; validation uses held-out words."""
    s = splits(seed)
    train_text = corpus(n_train, s["train_nouns"], s["train_clauses"], random.Random(seed + 2),
                        plain=PLAIN)
    val_text = corpus(n_val, s["test_nouns"], s["test_clauses"], random.Random(seed + 3))
    meta = {
        "data": f"generated by gru_core.agreement (seed {seed})",
        "split": f"{len(s['test_nouns'])} nouns and {len(s['test_clauses'])} clause templates held "
        f"out of training; validation text uses only those; {PLAIN:.0%} of training sentences "
        "have no clause",
        "held_out_nouns": s["test_nouns"],
        "held_out_clauses": s["test_clauses"],
    }
    return VOCAB, train_text, val_text, meta
