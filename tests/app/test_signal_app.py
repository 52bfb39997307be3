"""The app on a model that reads feature vectors (the shipped trigger-word GRU): the page's
numbers are gru_core's trace of the same input, the step marks move with t, bad input files get
a message, and every other view says why it does not apply instead of failing."""

import io
import json
import os
import wave

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.registry import QUESTIONS, VIEWS
from gru_core import load_checkpoint
from gru_core.core import feature_input

from ..conftest import ROOT, open_app

APP = str(ROOT / "dashboard/app.py")
CK = ROOT / "checkpoints/trigger-word"


@pytest.fixture(scope="module")
def tt():
    ck = load_checkpoint(f"{CK}.keras", labels=["activate"])
    return ck.trace(np.load(f"{CK}.sample.npy"))


def figures(at) -> dict[str, dict]:
    """The page's Plotly figures by title."""
    out = {}
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        out[fig["layout"]["title"]["text"]] = fig
    return out


def head_chart(at) -> dict:
    return figures(at)["P(activate) at every step"]


def marked(fig: dict) -> tuple[float, float]:
    shape = fig["layout"]["shapes"][0]
    return shape["x0"], shape["x1"]


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def upload(at: AppTest, source: str, name: str, data: bytes) -> AppTest:
    at.radio(key="input").set_value(source).run()
    at.file_uploader(key=f"input_{source}").upload(name, data).run()
    return at


def errors(at) -> str:
    return "\n".join(e.value for e in at.error)


def test_trigger_word_opens_by_url_and_charts_gru_core_probs(tt):
    at = open_app(ckpt="trigger-word", t=20)
    assert not at.exception and not at.error
    fig = head_chart(at)
    y = np.array(fig["data"][0]["y"], dtype=np.float32)
    assert np.array_equal(y, tt.probs[:, 0].numpy())  # the numbers, bit for bit
    assert marked(fig) == (20, 20)
    start, end = tt.span(20)
    picture = figures(at)["The input, step t's frames marked"]
    assert marked(picture) == pytest.approx((start * 0.01, end * 0.01))  # seconds: 10 ms frames
    assert f"reads input frames {start}–{end - 1}" in at.markdown[0].value
    assert at.query_params["ckpt"] == "trigger-word" and "text" not in at.query_params


def test_t_moves_the_marks_and_the_unit_terms(tt):
    at = open_app(ckpt="trigger-word", t=3, unit=5)
    assert marked(head_chart(at)) == (3, 3)
    at.slider(key="t").set_value(30).run()
    assert not at.exception
    assert marked(head_chart(at)) == (30, 30)
    start, end = tt.span(30)
    assert f"reads input frames {start}–{end - 1}" in at.markdown[0].value
    table = at.dataframe[0].value.set_index("term")["value"]
    for name in ("r", "z", "n", "h_prev", "h"):
        assert table[name] == tt.gate(name, 0, 0, 30)[5].item()
    assert at.query_params["t"] == "30"
    at.radio(key="notation").set_value("course").run()
    table = at.dataframe[0].value.set_index("term")
    assert table.loc["z", "symbol"] == "1−Γu" and table.loc["z", "value"] == tt.gate("z")[30, 5]


def test_a_wav_steps_like_the_sample_it_was_made_from(tt):
    at = open_app(ckpt="trigger-word")
    upload(at, "wav", "clip.wav", (CK.parent / "trigger-word.sample.wav").read_bytes())
    assert not at.exception and not at.error
    y = np.array(head_chart(at)["data"][0]["y"], dtype=np.float32)
    assert np.array_equal(y, tt.probs[:, 0].numpy())  # spectrogram, then log10(x + 1e-6)
    assert any("noverlap 120" in c.value for c in at.sidebar.caption)  # the recipe, named


def _header_only(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                                "shape": shape})
    return buf.getvalue()  # the magic and the header, no data


BAD = {
    "wrong shape": (npy(np.zeros((50, 7), np.float32)), "must be (T, 101)"),
    "one dimension": (npy(np.zeros(101, np.float32)), "must be (T, 101)"),
    "NaN": (npy(np.full((50, 101), np.nan, np.float32)), "NaN"),
    "too long": (_header_only((10**9, 101)), "1 <= T <= 100,000"),  # refused from its header
    "objects": (npy(np.array([[{}] * 101] * 3, dtype=object)), "not numbers"),
    "not npy": (b"PK\x03\x04 a zip", "not a readable .npy"),
    "empty": (npy(np.zeros((0, 101), np.float32)), "must be (T, 101)"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_npy_gets_a_message(case):
    data, said = BAD[case]
    at = upload(open_app(ckpt="trigger-word"), "npy", "bad.npy", data)
    assert not at.exception
    assert "cannot be used" in errors(at) and said in errors(at)
    assert not at.get("plotly_chart")


def test_a_file_that_is_not_a_wav_gets_a_message():
    at = upload(open_app(ckpt="trigger-word"), "wav", "x.wav", b"RIFF\x00\x00not a wave")
    assert not at.exception and "not a readable PCM .wav" in errors(at)


def test_a_good_npy_steps(tt):
    x = np.load(f"{CK}.sample.npy")[:120]
    at = upload(open_app(ckpt="trigger-word"), "npy", "**<b>mine</b>`.npy", npy(x))
    assert not at.exception and not at.error
    assert "the uploaded ` b_mine_b_.npy `" in at.markdown[0].value  # its name: plain, in code
    short = load_checkpoint(f"{CK}.keras", labels=["activate"]).trace(x)
    y = np.array(head_chart(at)["data"][0]["y"], dtype=np.float32)
    assert np.array_equal(y, short.probs[:, 0].numpy())
    assert "0.80" not in at.markdown[0].value.split("reads")[1]  # a .npy: frames, no seconds


@pytest.mark.parametrize("view", [*VIEWS, QUESTIONS])
def test_every_view_on_a_feature_model_says_why_or_steps(view):
    at = open_app(ckpt="trigger-word", view=view)
    assert not at.exception and not at.error
    if view not in (next(iter(VIEWS)), QUESTIONS):
        assert any("reads a text model" in i.value for i in at.info)
        assert head_chart(at)  # and the model is still stepped


def test_an_uploaded_feature_model_asks_for_its_input(tt):
    at = open_app(ckpt="agreement", text="The cats were full.")
    at.selectbox(key="ckpt").set_value("upload").run()
    at.file_uploader(key="model_file").upload("tw.keras", (CK.parent / "trigger-word.keras")
                                              .read_bytes()).run()
    assert not at.exception and not at.error
    assert len(at.radio(key="input").options) == 2  # no shipped sample for an upload
    assert any("Upload the input" in i.value for i in at.info)
    at.file_uploader(key="input_npy").upload("x.npy", npy(np.load(f"{CK}.sample.npy"))).run()
    assert not at.exception and not at.error
    fig = figures(at)["P(0) at every step"]  # an upload's classes: their indices
    y = np.array(fig["data"][0]["y"], dtype=np.float32)
    assert np.array_equal(y, tt.probs[:, 0].numpy())


def test_read_npy_checks_the_header_before_the_data():
    with pytest.raises(ValueError, match="got \\(1000000000, 101\\)"):
        feature_input.read_npy(_header_only((10**9, 101)), 101)
    x = np.asfortranarray(np.arange(2020, dtype=np.float64).reshape(20, 101))
    assert np.array_equal(feature_input.read_npy(npy(x), 101), x.astype(np.float32))


def test_wav_input_applies_the_models_preprocessing():
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(4000) / 3) * 1e4).astype(np.int16).tobytes())
    spec = feature_input.wav_features(buf.getvalue())
    raw = feature_input.wav_input({}, buf.getvalue())
    logged = feature_input.wav_input({"preprocess": "log10(x + 1e-6)"}, buf.getvalue())
    assert np.array_equal(raw, spec) and raw.shape == (48, 101)
    assert np.array_equal(logged, np.log10(spec + np.float32(1e-6)))
    with pytest.raises(ValueError, match="unknown preprocessing"):
        feature_input.wav_input({"preprocess": "__import__('os')"}, buf.getvalue())


def test_an_uploaded_keras_gru_reading_features_itself_is_stepped(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((None, 5)), keras.layers.GRU(4, return_sequences=True),
                              keras.layers.TimeDistributed(keras.layers.Dense(1, "sigmoid"))])
    model.save(tmp_path / "gru.keras")
    data = (tmp_path / "gru.keras").read_bytes()
    x = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    at = open_app(ckpt="agreement", text="The cats were full.")
    at.selectbox(key="ckpt").set_value("upload").run()
    at.selectbox(key="vocab_source").set_value("features").run()
    at.file_uploader(key="model_file").upload("gru.keras", data).run()
    assert not at.exception and not at.error
    at.file_uploader(key="input_npy").upload("x.npy", npy(x)).run()
    assert not at.exception and not at.error
    y = np.array(figures(at)["P(0) at every step"]["data"][0]["y"], dtype=np.float32)
    ours = load_checkpoint(data, features=True).trace(x).probs[:, 0].numpy()
    assert np.array_equal(y, ours)
    np.testing.assert_allclose(y, model.predict(x[None], verbose=0)[0, :, 0], atol=1e-6)


def test_a_state_dict_is_not_taken_for_a_feature_model():
    buf = io.BytesIO()
    torch.save(torch.nn.GRU(5, 8).state_dict(), buf)
    at = open_app(ckpt="agreement", text="The cats were full.")
    at.selectbox(key="ckpt").set_value("upload").run()
    at.selectbox(key="vocab_source").set_value("features").run()
    at.file_uploader(key="model_file").upload("gru.pt", buf.getvalue()).run()
    assert not at.exception and "only a Keras model" in errors(at)


def test_reset_and_what_if_on_trigger_word_say_why_and_compute_nothing_skipped():
    """The counterfactual views are not drawn for a model with layers between its GRUs: the
    page says why and shows the stepped model, never a reset or what-if computed past them
    (gru_core's own, from Python, runs those layers: test_keras_features.py)."""
    for params in ({"view": "reset", "t": 40}, {"view": "step", "wf_gate": "z",
                                                 "wf_value": "0.5", "wf_step": 50}):
        at = open_app(ckpt="trigger-word", **params)
        assert not at.exception and not at.error
        if params["view"] == "reset":
            assert any("reads a text model" in i.value for i in at.info)
        titles = figures(at)
        assert "P(activate) at every step" in titles
        assert not any("reset" in k.lower() or "what if" in k.lower() for k in titles)
        assert not [t for t in at.toggle if t.key == "whatif"]


def test_the_link_keeps_the_input_and_says_an_upload_opens_the_sample(tt):
    at = open_app(ckpt="trigger-word", t=30)
    assert at.query_params["input"] == "sample"
    x = np.load(f"{CK}.sample.npy")[:120]
    upload(at, "npy", "mine.npy", npy(x))
    assert not at.exception and not at.error
    assert at.query_params["input"] == "npy"
    assert any("link to this page opens the shipped sample" in c.value for c in at.caption)
    for source in ("npy", "wav"):  # the link of an upload: the sample, and the page says why
        again = open_app(ckpt="trigger-word", input=source, t=30)
        assert not again.exception and not again.error
        assert any(f"uploaded .{source} file, which a link cannot carry" in w.value
                   for w in again.warning)
        assert again.radio(key="input").value == "sample"
        y = np.array(head_chart(again)["data"][0]["y"], dtype=np.float32)
        assert np.array_equal(y, tt.probs[:, 0].numpy())
    bad = open_app(ckpt="trigger-word", input="<b>x</b>")
    assert any("Unknown input ` <b>x</b> `" in w.value for w in bad.warning)
    assert bad.radio(key="input").value == "sample"
