"""The words of the agreement task: nouns, hand-written clause templates, and a clause generator.

    The cat, which already ate the fish, was full.
    The cats, which already ate the fish, were full.

The hand-written templates are what agreement is judged on (some are held out of training). The
generator combines verbs, objects, places and times into thousands of further clauses for
training only: with a few dozen clauses a small GRU learns them by heart and loses the subject's
number on the first clause it has not seen; with thousands it has to carry number across
whatever comes.
"""

from __future__ import annotations

import random

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
kangaroo koala panda penguin pelican pigeon rat hamster ferret seal dolphin lobster oyster
cricket hornet gull raven robin sparrow falcon vulture heron stork leopard cheetah jaguar
panther hyena gorilla baboon lemur mole hedgehog raccoon skunk weasel mule bull hen rooster
chick piglet astronaut athlete author barber butcher carpenter chef coach dentist detective
editor engineer florist inventor janitor jockey juggler librarian magician manager mechanic
musician nanny novelist pianist poet porter potter preacher professor reporter scientist
sculptor servant shepherd sheriff surgeon tailor tenant tutor umpire vendor veteran villager
weaver wrestler baby lady duke emperor bishop monk nun priest hermit anchor arrow backpack badge
balloon barrel battery blade bench bolt bone box brick broom brush button cable cage carpet
chest comb crown crate cushion desk diamond dish drawer envelope feather fence flask fork frame
globe helmet jar jug kettle lantern lever magnet mask medal mirror mug nail needle notebook oven
paddle pan parcel pencil pipe pot puzzle quilt rake ribbon rug saddle sail screen shield sofa
statue stool stove suitcase sword tablet teapot telescope tile torch tray trophy trunk tube
umbrella vase wallet wheel wire airport alley apartment bakery cafe canyon cave cellar chapel
church cinema city clinic desert dock fountain garage harbor hospital hotel hut inn kitchen
library lighthouse meadow museum orchard park prison restaurant stadium street temple theater
tunnel bagel berry bun cherry cupcake donut grape muffin noodle olive pancake peach pear pepper
pickle plum pretzel pumpkin radish sausage waffle walnut
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

# The generator's pieces. Every noun in a generated clause is a {n} slot, so held-out nouns
# never appear in training text through a clause.
VERBS_T = """chased watched followed carried pushed pulled helped visited called painted fed
washed greeted kicked hugged ignored noticed pleased thanked warned saw met found liked loved
hated bit ate caught dropped fixed lifted sold bought brought took wanted""".split()
VERBS_I = """slept ran sang laughed waited danced cried rested arrived shouted smiled jumped
walked played sat stood hid fell swam worked talked listened froze barked""".split()
PARTICIPLES = """chased watched followed carried pushed pulled helped visited called painted fed
washed greeted kicked noticed seen found bitten eaten caught dropped fixed lifted sold bought
brought taken""".split()
SUBJECTS = ["we", "you", "they", "I", "nobody", "everyone", "somebody", "the {n}", "my {n}",
            "our {n}"]
PREPOSITIONS = "near behind under beside with after before around past inside above below".split()
ADJECTIVES = "old small big tall red quiet young tired happy dark little new".split()
TIMES = ["yesterday", "last night", "every morning", "at noon", "all day", "again", "quietly",
         "for hours", "last week", "at dawn", "twice", "long ago", "once", "today", "slowly"]
MAX_CLAUSE = 60


def plural(noun: str) -> str:
    """English's regular plural; every plural ends in s, every singular noun here does not."""
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _object(rng: random.Random) -> str:
    return f"the {rng.choice(ADJECTIVES)} {{n}}" if rng.random() < 0.3 else "the {n}"


def _tail(rng: random.Random) -> str:
    """An optional place and an optional time: 'near the {n} last night'."""
    parts = []
    if rng.random() < 0.5:
        parts.append(f"{rng.choice(PREPOSITIONS)} {_object(rng)}")
    if rng.random() < 0.4:
        parts.append(rng.choice(TIMES))
    return " ".join(parts)


def generated_clause(rng: random.Random) -> str:
    """One clause template of up to MAX_CLAUSE characters, with {n} noun slots."""
    while True:
        form = rng.randrange(4)
        if form == 0:  # which chased the {n} near the {n}
            head = f"{rng.choice(VERBS_T)} {_object(rng)}"
        elif form == 1:  # which slept behind the {n}
            head = rng.choice(VERBS_I)
        elif form == 2:  # which the {n} found yesterday
            head = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS_T)}"
        else:  # which had been carried by the {n}
            head = f"had been {rng.choice(PARTICIPLES)} by {_object(rng)}"
        clause = f"{head} {_tail(rng)}".strip()
        if len(clause.replace("{n}", "x" * 7)) <= MAX_CLAUSE:
            return clause


_CLAUSE_WORDS = {w for c in CLAUSES for w in c.split()} | {
    w for group in (VERBS_T, VERBS_I, PARTICIPLES, SUBJECTS, PREPOSITIONS, ADJECTIVES, TIMES)
    for phrase in group for w in phrase.split()}
# A noun that is also a clause word ("fell into the river") would leak into training even when
# held out; a singular ending in s ("bus", "princess") would look plural.
NOUNS = sorted(n for n in set(NOUNS) - _CLAUSE_WORDS if not n.endswith("s"))

PREDICATES = """
tired|happy|full|late|hungry|ready|quiet|broken|very old|quite small|still asleep|in the barn|
on the table|too loud|very expensive|lost again|covered in mud|not there|easy to find|
surprisingly heavy|bright red|very clean|far away|back home|safe at last
""".replace("\n", "").split("|")


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
