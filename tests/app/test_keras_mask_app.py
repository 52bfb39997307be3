"""An uploaded Keras model with Embedding(mask_zero=True): the page steps the text before the
padding at the end and says how many steps it left out; a padding token in the middle gets the
reason as a message, never a traceback."""

import os
import string

from gru_core import load_checkpoint

from ..conftest import open_app


def masked_model(tmp_path) -> bytes:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(2)
    V = len(string.printable)
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(V, 8, mask_zero=True, name="chars"),
                              keras.layers.GRU(6, return_sequences=True),
                              keras.layers.Dense(V, activation="softmax")])
    model.save(tmp_path / "masked.keras")
    return (tmp_path / "masked.keras").read_bytes()


def uploaded(data: bytes, text: str):
    at = open_app(ckpt="agreement", text=text, t=2)
    at.selectbox(key="ckpt").set_value("upload").run()
    at.selectbox(key="vocab_source").set_value("printable").run()
    at.file_uploader(key="model_file").upload("masked.keras", data).run()
    return at


def test_padding_at_the_end_is_left_out_and_said(tmp_path):
    data = masked_model(tmp_path)
    at = uploaded(data, "abc00")  # "0" is token id 0 of string.printable: padding
    assert not at.exception and not at.error
    tt = load_checkpoint(data, vocab=list(string.printable)).trace("abc00")
    assert tt.T == 3 and tt.padding == 2
    said = [c.value for c in at.caption if "padding" in c.value]
    assert said and "The last 2 step(s) of the input are padding (Embedding ` chars `" in said[0]
    assert at.slider(key="t").max == 2


def test_a_padding_token_in_the_middle_gets_the_reason(tmp_path):
    at = uploaded(masked_model(tmp_path), "a0bc")
    assert not at.exception
    text = "\n".join(e.value for e in at.error)
    assert "token id 0 (` 0 `) at step 1" in text and "Keras would skip that step" in text
    assert "Embedding ` chars `" in text  # the file's name for it, quoted as plain text
