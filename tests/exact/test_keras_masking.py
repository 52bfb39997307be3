"""Keras masks (Embedding(mask_zero=True), Masking) honoured where the masked steps are padding at
the end: the trace covers the steps before it, every h, gate and head output Keras's own bits
(torch backend, Keras running the saved file with the padding); a masked step in the middle, or
a mask the stepper does not replay, is refused with the user's layer named."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from gru_core import CheckpointError, load_checkpoint  # noqa: E402

from .test_keras import Recorder, grus  # noqa: E402

L = keras.layers
TOKENS = ["<pad>"] + list("bcdefghijklm")  # id 0 is the padding token
TEXT = "bcmlkjihgfedcbbcdeffedcbmlkkj"
PAD = 4



def _chain(inp, layers: list, functional: bool):
    """The layers after `inp`, as a Functional model or as a Sequential one."""
    if not functional:
        return keras.Sequential([inp, *layers])
    x = inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)

def ids(tokens: list[str]) -> np.ndarray:
    return np.array([[TOKENS.index(c) for c in tokens]])


def token_model(kind: str, functional: bool, scale: float, seed: int = 0):
    """Embedding(mask_zero=True) -> GRU(s) -> a head, Sequential or Functional."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((None,), dtype="int32")
    layers = [L.Embedding(len(TOKENS), 9, mask_zero=True)]
    if kind == "stack":
        layers += [L.GRU(13, return_sequences=True), L.Dropout(0.3), L.BatchNormalization(),
                   L.GRU(13, return_sequences=True), L.Dense(len(TOKENS), activation="softmax")]
    elif kind == "bi":
        layers += [L.Bidirectional(L.GRU(11, return_sequences=True)),
                   L.TimeDistributed(L.Dense(7, activation="softmax"))]
    elif kind == "classifier":
        layers += [L.GRU(12, reset_after=False), L.Dense(3, activation="softmax")]
    model = _chain(inp, layers, functional)
    for i, w in enumerate(model.weights):
        if "moving" not in w.path:
            w.assign(keras.random.normal(w.shape, seed=seed + i) * scale)
    return model


def keras_run(model, x: np.ndarray, T: int):
    """Keras's own run on the padded input: each GRU's h, its cells' gates (the first T steps:
    a masked step's are computed too, then set aside) and the model's output."""
    cells = grus(model)
    recorders = [[Recorder(layer.cell) for layer in pair] for pair in cells]
    gru_layers = [la for la in model.layers if isinstance(la, (L.GRU, L.Bidirectional))]
    probe = keras.Model(model.inputs, [la.output for la in gru_layers] + [model.outputs[0]])
    *hs, out = [t.detach()[0] for t in probe(x)]
    T_all = x.shape[1]
    gates = [[rec.gates(T_all, reverse=d == 1) for d, rec in enumerate(pair)]
             for pair in recorders]
    return hs, gates, out


def assert_honoured(ck, model, steps, x: np.ndarray):
    tt = ck.trace(steps)
    T = x.shape[1] - PAD
    assert tt.T == T and tt.padding == PAD
    note = tt.padding_note()
    assert f"The last {PAD} step(s)" in note and repr(ck.module.mask.layer) in note
    hs, gates, out = keras_run(model, x, T)
    for layer, h in enumerate(hs):
        if h.dim() == 1:  # the last state only: the h at the last step before the padding
            assert torch.equal(tt.gate("h", layer, 0, T - 1), h)
            continue
        D = len(gates[layer])
        H = h.shape[1] // D
        for d in range(D):
            assert torch.equal(tt.gate("h", layer, d), h[:T, d * H : (d + 1) * H]), (layer, d)
            for name, want in gates[layer][d].items():
                assert torch.equal(tt.gate(name, layer, d), want[:T]), (name, layer, d)
    if out.dim() == 1:  # a classifier: its own output is the row of the last kept step
        assert torch.equal(tt.probs[-1], out)
    else:
        assert torch.equal(tt.probs, out[:T])
    return tt


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("kind", ["stack", "bi", "classifier"])
def test_mask_zero_with_padding_at_the_end_is_keras_bit_for_bit(kind, functional, ext, tmp_path):
    for scale in (1.0, 6.0):  # random and saturating weights
        model = token_model(kind, functional, scale)
        model.save(tmp_path / f"m.{ext}")
        ck = load_checkpoint(tmp_path / f"m.{ext}", vocab=TOKENS)
        assert "mask_zero=True" in ck.meta["mask"] and "'embedding" in ck.meta["mask"]
        tt = assert_honoured(ck, model, TEXT + "<pad>" * PAD, ids(list(TEXT) + ["<pad>"] * PAD))
        assert tt.tokens == list(TEXT)
        if scale == 6.0:
            assert (tt.gate("z") > 0.999).any()


def test_without_padding_a_masked_model_is_keras_s_generic_loop(tmp_path):
    """Keras runs a masked GRU through its generic loop even when nothing is masked."""
    model = token_model("stack", True, 1.5)
    model.save(tmp_path / "m.keras")
    tt = load_checkpoint(tmp_path / "m.keras", vocab=TOKENS).trace(TEXT)
    assert tt.padding == 0 and tt.padding_note() is None
    assert torch.equal(tt.probs, model(ids(list(TEXT))).detach()[0])


def test_a_zero_token_in_the_middle_is_refused_with_the_reason(tmp_path):
    model = token_model("stack", True, 1.0)
    model.save(tmp_path / "m.keras")
    ck = load_checkpoint(tmp_path / "m.keras", vocab=TOKENS)
    with pytest.raises(ValueError) as e:
        ck.trace("bc<pad>d<pad>")
    msg = str(e.value)
    assert "token id 0 ('<pad>') at step 2" in msg and "Embedding 'embedding" in msg
    assert "Keras would skip that step" in msg and "does not replay skipped steps" in msg
    assert "not_equal" not in msg
    with pytest.raises(ValueError, match="every step is masked"):
        ck.trace("<pad><pad>")


def feature_model(functional: bool, conv: bool = False, seed: int = 0):
    """Masking -> BatchNormalization -> GRU -> Dropout -> GRU -> TimeDistributed(Dense)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((None, 6))
    layers = [L.Masking(-1.0), L.BatchNormalization()]
    layers += [L.Conv1D(5, 3)] if conv else []
    layers += [L.GRU(10, return_sequences=True), L.Dropout(0.5), L.GRU(10, return_sequences=True),
               L.TimeDistributed(L.Dense(1, activation="sigmoid"))]
    model = _chain(inp, layers, functional)
    for i, w in enumerate(model.weights):
        w.assign(keras.random.normal(w.shape, seed=seed + i) * (0.3 if "variance" in w.path
                                                                 else 1.0) + (
            1.0 if "variance" in w.path else 0.0))
    return model


def frames(T: int, pad: int, seed: int = 1) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(1, T + pad, 6)).astype("float32")
    x[0, T:] = -1.0
    return x


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_masking_with_padding_at_the_end_is_keras_bit_for_bit(functional, ext, tmp_path):
    model = feature_model(functional)
    model.save(tmp_path / f"f.{ext}")
    ck = load_checkpoint(tmp_path / f"f.{ext}")
    assert "Masking 'masking" in ck.meta["mask"]
    x = frames(30, PAD)
    tt = assert_honoured(ck, model, x[0], x)
    assert len(tt.spans) == tt.T == 30
    x[0, 7] = -1.0  # a padding frame in the middle
    with pytest.raises(ValueError) as e:
        ck.trace(x[0])
    assert "frame 7, equal to mask_value -1" in str(e.value)
    assert "Masking 'masking" in str(e.value) and "any" not in str(e.value).split()


def test_a_conv1d_after_masking_drops_the_mask_as_keras_does(tmp_path):
    model = feature_model(True, conv=True)
    model.save(tmp_path / "c.keras")
    ck = load_checkpoint(tmp_path / "c.keras")
    assert "stops at Conv1D 'conv1d" in ck.meta["mask"]
    x = frames(20, PAD)
    tt = ck.trace(x[0])
    assert tt.padding == 0
    assert torch.equal(tt.probs, model(x).detach()[0])


def test_a_mask_the_stepper_does_not_replay_is_refused_naming_the_gru(tmp_path):
    """A GRU called with a mask of its own (not the Embedding's) is named, not the op."""
    inp = keras.Input((None,), dtype="int32")
    x = L.Embedding(len(TOKENS), 8)(inp)
    x = L.GRU(9, return_sequences=True, name="my_gru")(x, mask=keras.ops.not_equal(inp, 3))
    keras.Model(inp, L.Dense(4)(x)).save(tmp_path / "odd.keras")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "odd.keras", vocab=TOKENS)
    assert "'my_gru'" in str(e.value) and "not_equal" not in str(e.value)


def test_a_masking_layer_between_grus_is_refused(tmp_path):
    inp = keras.Input((None, 6))
    x = L.GRU(5, return_sequences=True)(inp)
    x = L.Masking(0.0, name="late_mask")(x)
    keras.Model(inp, L.GRU(5, return_sequences=True)(x)).save(tmp_path / "late.keras")
    with pytest.raises(CheckpointError, match="'late_mask'.*mask made from the input"):
        load_checkpoint(tmp_path / "late.keras", features=True)


KERAS2 = r"""
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf, tf_keras as k
tf.random.set_seed(0)
inp = k.Input((None,), dtype="int32")
x = k.layers.Embedding(13, 9, mask_zero=True)(inp)
x = k.layers.GRU(17, return_sequences=True, reset_after=sys.argv[2] == "after")(x)
x = k.layers.Dropout(0.2)(x)
x = k.layers.GRU(17, return_sequences=True, reset_after=sys.argv[2] == "after")(x)
out = k.layers.Dense(13, activation="softmax")(x)
m = k.Model(inp, out)
for w in m.weights:
    w.assign(tf.random.normal(w.shape, seed=1) * 0.5)
m.save(sys.argv[1] + ".h5")
x = np.array([[int(c) for c in sys.argv[3].split(",")]])
probe = k.Model(inp, [m.layers[4].output, out])
h, p = probe(x)
np.savez(sys.argv[1] + ".npz", h=h.numpy()[0], p=p.numpy()[0])
"""


@pytest.mark.parametrize("reset", ["after", "before"])
def test_a_keras2_masked_functional_h5_is_within_2e_6_of_tensorflow(reset, tmp_path):
    pytest.importorskip("tf_keras")
    base = str(tmp_path / "k2")
    steps = list(TEXT) + ["<pad>"] * PAD
    run = subprocess.run([sys.executable, "-c", KERAS2, base, reset,
                          ",".join(str(TOKENS.index(c)) for c in steps)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    ref = np.load(base + ".npz")
    ck = load_checkpoint(base + ".h5", vocab=TOKENS)
    assert "mask_zero=True" in ck.meta["mask"]
    tt = ck.trace("".join(steps))
    T = len(TEXT)
    assert tt.T == T and tt.padding == PAD
    dh = (tt.output - torch.from_numpy(ref["h"][:T])).abs().max().item()
    dp = (tt.probs - torch.from_numpy(ref["p"][:T])).abs().max().item()
    print(f"TensorFlow (tf_keras, masked) vs replay, reset_{reset}: h {dh:.1e}, p {dp:.1e}")
    assert max(dh, dp) < 2e-6, (dh, dp)
