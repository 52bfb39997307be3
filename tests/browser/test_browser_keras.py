"""A course learner's Keras GRU (reset_after=False, the lecture's formula) uploaded in Chromium:
the card names whose numbers these are, and its numbers are Keras's own."""

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from ..browser import settle
from .test_browser import COURSE, goto, heading, no_exception, shot

pytestmark = pytest.mark.chromium

H = 11


def course_keras_model(vocab: list[str]):
    """Embedding → GRU(reset_after=False) → Dense, built and saved with Keras on torch."""
    from ..exact.test_keras import keras  # KERAS_BACKEND=torch before keras is imported
    keras.utils.set_random_seed(7)
    gru = keras.layers.GRU(H, return_sequences=True, reset_after=False)
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(len(vocab), 8), gru,
                              keras.layers.Dense(len(vocab))])
    for i, w in enumerate(model.weights):
        w.assign(keras.random.normal(w.shape, seed=i) * 0.7)
    return keras, model, gru


def upload_model_then_vocabulary(page, url: str, tmp_path, notation: str) -> None:
    """The course learner's order: the model file first (the page asks for its vocabulary),
    then "a vocabulary file…" and that file."""
    goto(page, f"{url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 7, "unit": 3,
                                       "notation": notation}))
    page.locator(".st-key-ckpt").click()
    page.get_by_role("option", name="upload your own…").click()
    settle(page)
    uploader = page.get_by_test_id("stFileUploader")
    uploader.filter(has_text="Model file").locator("input[type=file]").set_input_files(
        str(tmp_path / "course.keras"))
    settle(page)
    expect(page.get_by_text("carries no vocabulary")).to_be_visible()
    page.locator(".st-key-vocab_source").click()
    page.get_by_role("option", name="a vocabulary file…").click()
    settle(page)
    uploader.filter(has_text="Vocabulary").locator("input[type=file]").set_input_files(
        str(tmp_path / "course.txt"))
    settle(page)


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_upload_a_keras_reset_before_model_shows_the_lecture_card(app_url, page, tmp_path,
                                                                  notation):
    import torch

    from dashboard.export import f4
    vocab = sorted(set(COURSE))
    keras, model, gru = course_keras_model(vocab)
    model.save(tmp_path / "course.keras")
    (tmp_path / "course.txt").write_text("\n".join(vocab) + "\n")
    ids = torch.tensor([[vocab.index(c) for c in COURSE]])
    keras_h = keras.Model(model.inputs, gru.output)(ids).detach()[0]  # Keras's own states
    t = 7  # upload_model_then_vocabulary opens the link at t = 7

    upload_model_then_vocabulary(page, app_url, tmp_path, notation)
    no_exception(page)
    expect(page.get_by_text("upload course.keras", exact=False).first).to_be_visible()

    title = heading(page, f"Step t = {t}, unit ")
    expect(title).to_have_count(1)
    unit = int(re.search(r"unit (\d+)", title.inner_text()).group(1))
    expect(page.get_by_text("Whose numbers: Keras 3 GRU (reset_after=False, the lecture's "
                            "formula) on the torch backend")).to_be_visible()
    own = f4(float(keras_h[t, unit]))  # the unit's h at t, as Keras computed it
    verify = page.get_by_text("Recomputed h = " if notation == "pytorch" else "Recomputed c⟨t⟩ = ")
    expect(verify).to_contain_text(f"Keras's own output {own}")
    expect(verify).to_contain_text("difference 0 (bit for bit)")
    expect(page.get_by_text("does not apply to this model")).to_have_count(0)  # no warning
    card = page.get_by_test_id("stMarkdownContainer").filter(has=page.locator(".katex")).first
    if notation == "pytorch":  # the model's own n line; PyTorch's formula is the comparison
        expect(card).to_contain_text("candidate (the lecture's formula)")
        expect(page.get_by_text("For comparison: PyTorch's formula, which resets after the "
                                "product")).to_be_visible()
    else:  # the lecture's equations with live numbers
        expect(card).to_contain_text("candidate (the lecture's formula)")
        expect(card).to_contain_text("hidden part")
        expect(page.get_by_text("computes the lecture's GRU")).to_be_visible()
    expect(card).to_contain_text(own)  # h (c⟨t⟩), the card's last line, is Keras's h
    no_exception(page)
    shot(page, f"upload-keras-reset-before-{notation}")


def test_an_upload_survives_the_vocabulary_asked_after_it_and_a_notation_switch(
        app_url, page, tmp_path):
    """The model file first, then "a vocabulary file…" (its uploader appears above the model
    file's), then a click on Notation: the upload is kept and the card follows the switch
    (the model file's uploader must not be remounted empty by the one that appears above it)."""
    vocab = sorted(set(COURSE))
    _, model, _ = course_keras_model(vocab)
    model.save(tmp_path / "course.keras")
    (tmp_path / "course.txt").write_text("\n".join(vocab) + "\n")
    upload_model_then_vocabulary(page, app_url, tmp_path, "pytorch")
    uploader = page.get_by_test_id("stFileUploader")
    whose = page.get_by_text("Whose numbers: Keras 3 GRU (reset_after=False")
    expect(whose).to_be_visible()
    page.get_by_text("Course (Γr, Γu, c̃, c)").click()
    settle(page)
    expect(whose).to_be_visible()
    card = page.get_by_test_id("stMarkdownContainer").filter(has=page.locator(".katex")).first
    expect(card).to_contain_text("hidden part")  # the course card
    expect(uploader.filter(has_text="Model file")).to_contain_text("course.keras")
    no_exception(page)
