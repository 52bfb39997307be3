"""Keras models that read feature vectors (a spectrogram): the layers before, between and after
the GRUs replayed in Keras's order, compared with Keras itself (torch backend) bit for bit."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from gru_core import CheckpointError, load_checkpoint  # noqa: E402
from gru_core.core.features import FeatureCheckpoint  # noqa: E402

from ..exact.test_keras import Recorder, grus  # noqa: E402

L = keras.layers


def trigger_word(T: int = 5511, F: int = 101, filters: int = 196, H: int = 128):
    """The course's trigger-word model (week 3), at its own sizes by default."""
    inp = keras.Input((T, F))
    x = L.Conv1D(filters, 15, strides=4)(inp)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Dropout(0.8)(x)
    x = L.GRU(H, return_sequences=True)(x)
    x = L.Dropout(0.8)(x)
    x = L.BatchNormalization()(x)
    x = L.GRU(H, return_sequences=True)(x)
    x = L.Dropout(0.8)(x)
    x = L.BatchNormalization()(x)
    x = L.Dropout(0.8)(x)
    return keras.Model(inp, L.TimeDistributed(L.Dense(1, activation="sigmoid"))(x))


def fitted(model, T: int, F: int, seed: int = 0, loss: str = "binary_crossentropy"):
    """A short fit moves the BatchNormalization statistics away from 0 and 1."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, T, F)).astype("float32") * 2 + 0.5
    out = model.compute_output_shape((2, T, F))
    Y = (rng.random((2, *out[1:])) > 0.8).astype("float32")
    model.compile("adam", loss)
    model.fit(X, Y, epochs=1, batch_size=2, verbose=0)  # one step
    return model, rng.normal(size=(T, F)).astype("float32") * 2 + 0.5


def assert_keras_bits(model, ck, x: np.ndarray) -> None:
    """Every GRU's h and gates, and the model's own output, against Keras running it."""
    cells = grus(model)
    recorders = [[Recorder(layer.cell) for layer in pair] for pair in cells]
    gru_layers = [la for la in model.layers if isinstance(la, (L.GRU, L.Bidirectional))]
    probe = keras.Model(model.inputs, [la.output for la in gru_layers] + [model.outputs[0]])
    *hs, out = [t.detach()[0] for t in probe(x[None])]
    tt = ck.trace(x)
    for layer, h in enumerate(hs):
        h = h if h.dim() == 2 else h[None]
        T = tt.T
        assert torch.equal(tt.gate("h", layer, 0, slice(T - h.shape[0], T)), h), layer
        for name, want in recorders[layer][0].gates(T, reverse=False).items():
            assert torch.equal(tt.gate(name, layer), want), (name, layer)
    want = out if out.dim() == 2 else out[None]  # a classifier: its last step only
    assert torch.equal(tt.probs[-want.shape[0]:], want)
    return tt


def test_the_assignment_model_at_its_own_sizes_is_keras_bit_for_bit(tmp_path):
    model, x = fitted(trigger_word(), 5511, 101)
    bn = [la for la in model.layers if isinstance(la, L.BatchNormalization)][0]
    assert float(np.abs(bn.moving_variance.numpy() - 1).max()) > 1e-3  # moved by the fit
    model.save(tmp_path / "tw.keras")
    ck = load_checkpoint(tmp_path / "tw.keras")
    assert isinstance(ck, FeatureCheckpoint)
    assert ck.meta["input"] == "features" and ck.meta["features"] == 101
    assert ck.meta["head"] == "sigmoid" and ck.meta["frames"] == 1375
    tt = assert_keras_bits(model, ck, x)
    assert tt.T == 1375 and tt.probs.shape == (1375, 1)
    assert tt.span(0) == (0, 15) and tt.span(1374) == (5496, 5511)


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_the_trigger_word_shape_small_in_both_files(ext, tmp_path):
    model, x = fitted(trigger_word(80, 9, 12, 16), 80, 9, seed=1)
    model.save(tmp_path / f"m.{ext}")
    assert_keras_bits(model, load_checkpoint(tmp_path / f"m.{ext}"), x)


def _front(kind: str):
    """Layers before the GRU that real feature models have."""
    return {
        "maxpool": [L.Conv1D(10, 3, padding="same", activation="relu"), L.MaxPooling1D(2)],
        "avgpool": [L.Conv1D(10, 5), L.BatchNormalization(center=False), L.AveragePooling1D(3, 2)],
        "relu_tanh": [L.Conv1D(10, 4, strides=2, padding="same"), L.ReLU(),
                      L.Activation("tanh"), L.BatchNormalization(scale=False)],
        "none": [],
    }[kind]


@pytest.mark.parametrize("front", ["maxpool", "avgpool", "relu_tanh", "none"])
@pytest.mark.parametrize("head", ["seq_softmax", "dense_activation", "regressor"])
def test_fronts_and_heads_are_keras_bit_for_bit(front, head, tmp_path):
    keras.utils.set_random_seed(3)
    last = head != "regressor"
    layers = [keras.Input((None, 6)), *_front(front), L.GRU(12, return_sequences=last),
              L.BatchNormalization()]
    layers += {"seq_softmax": [L.Dense(4, activation="softmax")],
               "dense_activation": [L.Dense(3), L.Activation("softmax")],
               "regressor": [L.Dense(1)]}[head]
    model = keras.Sequential(layers)
    loss = "mse" if head == "regressor" else "categorical_crossentropy"
    model, x = fitted(model, 41, 6, seed=2, loss=loss)
    model.save(tmp_path / "m.keras")
    ck = load_checkpoint(tmp_path / "m.keras", features=front == "none")
    assert ck.meta["head"] == {"regressor": "classifier"}.get(head, "tagger")
    tt = assert_keras_bits(model, ck, x)
    if head == "regressor":  # row t: the model's output had the input ended at step t's frames
        assert tt.probs.shape == (tt.T, 1) and ck.meta["head_activation"] == "linear"


def test_refusals_name_the_reason(tmp_path):
    model = keras.Sequential([keras.Input((None, 6)), L.Conv1D(4, 3),
                              L.GRU(5, return_sequences=True), L.Dense(1, activation="sigmoid")])
    model.save(tmp_path / "m.keras")
    with pytest.raises(CheckpointError, match="reads feature vectors.*without a vocabulary"):
        load_checkpoint(tmp_path / "m.keras", vocab=list("abcdef"))
    ck = load_checkpoint(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"must be \(T, 6\)"):
        ck.trace(np.zeros((10, 5), dtype="float32"))
    with pytest.raises(ValueError, match="fewer than the layers before the GRU need"):
        ck.trace(np.zeros((2, 6), dtype="float32"))
    with pytest.raises(ValueError, match="NaN"):
        ck.trace(np.full((10, 6), np.nan, dtype="float32"))
    with pytest.raises(CheckpointError, match="1 outputs but 2 labels"):
        load_checkpoint(tmp_path / "m.keras", labels=["a", "b"])
    assert load_checkpoint(tmp_path / "m.keras", labels=["activate"]).labels == ("activate",)
    bad = keras.Sequential([keras.Input((None, 6)), L.Conv1D(4, 3, groups=2),
                            L.GRU(5, return_sequences=True), L.Dense(1)])
    bad.save(tmp_path / "g.keras")
    with pytest.raises(CheckpointError, match=r"\(Conv1D\) cannot be stepped: only padding"):
        load_checkpoint(tmp_path / "g.keras")


def test_the_shipped_trigger_word_model_steps_a_wav_and_a_npy():
    from gru_core.core.audio import wav_features

    from ..conftest import ROOT
    stem = ROOT / "checkpoints" / "trigger-word"
    ck = load_checkpoint(f"{stem}.keras", labels=["activate"])
    assert ck.meta["head"] == "sigmoid" and ck.labels == ("activate",)
    x = np.load(f"{stem}.sample.npy")
    from_wav = np.log10(wav_features((stem.parent / "trigger-word.sample.wav").read_bytes())
                        + 1e-6).astype(np.float32)  # the input the model was trained on
    assert np.array_equal(from_wav, x)
    tt = ck.trace(x)
    model = keras.saving.load_model(f"{stem}.keras")
    assert torch.equal(tt.probs, model(x[None]).detach()[0])
    assert tt.probs.max() > 0.5 and tt.top_next(int(tt.probs.argmax()), 1)[0][0] == "activate"


def test_what_if_and_reset_run_the_layers_between_the_grus(tmp_path):
    """The counterfactuals run the layers above an edit through the BatchNormalization between
    the GRUs, as Keras does: an edit that changes nothing moves nothing, and the reset's
    prediction is Keras's own layers applied to the changed h."""
    from gru_core import reset_counterfactual, what_if

    model, x = fitted(trigger_word(80, 9, 12, 16), 80, 9, seed=1)
    rng = np.random.default_rng(3)
    for bn in (la for la in model.layers if isinstance(la, L.BatchNormalization)):
        C = bn.moving_mean.shape[0]  # statistics far from (0, 1), so that skipping them shows
        bn.moving_mean.assign(rng.normal(size=C).astype("float32") * 0.5)
        bn.moving_variance.assign(rng.uniform(0.2, 3.0, size=C).astype("float32"))
    model.save(tmp_path / "tw.keras")
    tt = load_checkpoint(tmp_path / "tw.keras").trace(x)
    t, unit = 5, 3
    for gate in ("z", "r"):
        wi = what_if(tt, t, unit, gate, float(tt.gate(gate, 0, 0, t)[unit]), layer=0, steps=8)
        torch.testing.assert_close(wi.probs_what_if, wi.probs, rtol=0, atol=1e-6)
    cf = reset_counterfactual(tt, t, layer=0)
    gru1, gru2 = (la for la in model.layers if isinstance(la, L.GRU))
    bn2, bn3 = [la for la in model.layers if isinstance(la, L.BatchNormalization)][1:]
    dense = model.layers[-1]
    h0 = tt.gate("h_prev", 0, 0, t)[None]
    z = tt.gate("z", 0, 0, t)[None]
    n_no_reset = cf.n_no_reset[None]
    h = z * h0 + (1 - z) * n_no_reset  # layer 0's h with r = 1, Keras's update
    x1 = bn2(h[None], training=False)[0]
    h1 = gru2.cell(x1, [tt.gate("h_prev", 1, 0, t)[None]], training=False)[0]
    want = dense(bn3(h1[None], training=False)).detach()[0, 0]
    torch.testing.assert_close(cf.probs_no_reset, want, rtol=0, atol=1e-6)
    skipped = dense(bn3(gru2.cell(h, [tt.gate("h_prev", 1, 0, t)[None]])[0][None],
                        training=False)).detach()[0, 0]
    assert (skipped - want).abs().max() > 1e-3  # the BatchNormalization does matter here


def test_the_step_card_reads_a_feature_trace_in_frames_and_seconds():
    from dashboard.export import pytorch_latex
    from gru_core import step_card
    from gru_core.core import feature_input

    from ..conftest import ROOT

    ck = load_checkpoint(ROOT / "checkpoints/trigger-word.keras", labels=["activate"])
    x = np.load(ROOT / "checkpoints/trigger-word.sample.npy")
    tt = ck.trace(x, audio=True)
    t, unit = 17, 3
    start, end = tt.span(t)
    s0, s1 = feature_input.step_seconds(tt, t)
    card = step_card(tt, t, unit, layer=0)
    assert card.token == f"frames {start}–{end - 1} ({s0:.2f}–{s1:.2f} s)" == \
        "frames 68–82 (0.68–0.84 s)"
    assert card.input_kind == "features" and card.token_id is None
    assert card.one_hot_index is None and card.input_column == {}
    for name in ("r", "z", "n", "h", "h_prev"):  # the trace's own numbers
        assert card.terms[name] == float(tt.gate(name, 0, 0, t)[unit])
    assert "input frames" in "".join(pytorch_latex(card))
    assert step_card(ck.trace(x), t, unit).token == "frames 68–82"  # not a clip: no seconds
