"""step_cards (the window of cards the stepper sends to the browser) is step_card at each
step, field for field: the browser's card and the server's are the same numbers."""

import json

import pytest

from gru_core import load_checkpoint, step_card, step_cards

from ..conftest import CHECKPOINTS

TEXT = "The cats, which already ate the fish, were full."


@pytest.mark.parametrize("ckpt, text, unit, layer, steps", [
    ("agreement", TEXT, 5, 0, slice(0, 48)),  # one-hot input, resets after the product
    ("shakespeare-2layer", TEXT, 17, 1, slice(3, 40)),  # the layer below as input
    ("agreement-words", "the cats , which already ate the fish , were full .", 3, 0,
     slice(None)),  # an embedding
    ("agreement-course.keras", TEXT, 7, 0, slice(10, 30)),  # Keras, resets before
])
def test_step_cards_are_step_card_at_each_step(ckpt, text, unit, layer, steps):
    if ckpt.endswith(".keras"):
        vocab = json.loads((CHECKPOINTS / "agreement-course.vocab.json").read_text())
        tt = load_checkpoint(CHECKPOINTS / ckpt, vocab=vocab).trace(text)
    else:
        tt = load_checkpoint(CHECKPOINTS / f"{ckpt}.pt").trace(text)
    cards = step_cards(tt, unit, layer, 0, steps)
    assert [c.t for c in cards] == list(range(tt.T)[steps])
    for c in cards:
        assert c == step_card(tt, c.t, unit, layer, 0), c.t
