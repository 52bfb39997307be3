"""Keras GRUs, both conventions, loaded from their files and compared with Keras itself.

Keras runs here on the torch backend (chosen before keras is imported): the loader's numbers must
be Keras's bit for bit, every h, every gate (recorded from Keras's own cell as it runs) and every
next-token probability. TensorFlow runs in a subprocess (its backend is chosen at import) and is
held to a measured bound. The loader itself never imports keras or tensorflow.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

os.environ["KERAS_BACKEND"] = "torch"

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

keras = pytest.importorskip("keras")  # requirements-test.txt: make test installs it

from gru_core import CheckpointError, load_checkpoint  # noqa: E402

from ..conftest import ROOT  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.fail("keras was imported with another backend before this module", pytrace=False)

TOKENS = list("abcdefghijklm")  # 13 tokens
V = len(TOKENS)
TEXT = "abcmlkjihgfedcbaabcdeffedcbamlkkj"
# Measured max |TensorFlow − Keras on torch| over h and probabilities, 33 steps (README): 4e-8
# with Keras's own initial weights, 2.1e-6 with N(0, 0.5²) weights; N(0, 1) weights make the
# GRU chaotic and the difference grows to 3e-2, so no bound is claimed there.
TF_BOUND = {None: 1e-7, 0.5: 5e-6}  # measured max |TensorFlow − Keras-on-torch| is stated in README


def build(arch: str, reset_after: bool, H: int = 37, scale: float | None = 1.0, seed: int = 0):
    """A Keras model of one of the supported shapes, with random (or saturating) weights."""
    keras.utils.set_random_seed(seed)
    one_hot = arch.startswith("onehot")
    layers = [keras.Input((None, V)) if one_hot else keras.Input((None,), dtype="int32")]
    if not one_hot:
        layers.append(keras.layers.Embedding(V, 9))

    def gru():
        return keras.layers.GRU(H, return_sequences=True, reset_after=reset_after)
    for _ in range(2 if arch.endswith("2") else 1):
        layers.append(keras.layers.Bidirectional(gru()) if arch.startswith("bi") else gru())
    layers.append(keras.layers.Dense(V, activation="softmax" if reset_after else None))
    model = keras.Sequential(layers)
    for i, w in enumerate(model.weights if scale else []):  # scale None: Keras's own init
        w.assign(keras.random.normal(w.shape, seed=seed + i) * scale)
    return model


def keras_input(text: str, one_hot: bool) -> torch.Tensor:
    ids = torch.tensor([[TOKENS.index(c) for c in text]])
    return F.one_hot(ids, V).float() if one_hot else ids


class Recorder:
    """Wraps a cell's activations to keep what Keras's own cell computed: z and r (sigmoid,
    called z first), and the candidate hh (tanh)."""

    def __init__(self, cell):
        self.sig, self.tanh = [], []
        sig, tanh = cell.recurrent_activation, cell.activation
        cell.recurrent_activation = lambda x: self._keep(self.sig, sig(x))
        cell.activation = lambda x: self._keep(self.tanh, tanh(x))

    @staticmethod
    def _keep(where, y):
        where.append(y.detach().clone())
        return y

    def gates(self, T: int, reverse: bool) -> dict[str, torch.Tensor]:
        sig = self.sig[-2 * T :]  # the generic RNN loop runs step 0 once more, first
        out = {"z": torch.cat(sig[0::2]), "r": torch.cat(sig[1::2]),
               "n": torch.cat(self.tanh[-T:])}
        return {k: v.flip(0) if reverse else v for k, v in out.items()}


def grus(model) -> list[list]:
    """Per GRU layer, its cells' layers: [gru] or [forward, backward]."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            out.append([layer.forward_layer, layer.backward_layer])
        elif isinstance(layer, keras.layers.GRU):
            out.append([layer])
    return out


ARCHS = ["emb1", "emb2", "onehot1", "onehot2", "bi1", "bi2"]


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_h_gate_and_probability_is_keras_bit_for_bit(arch, reset_after, ext, tmp_path):
    model = build(arch, reset_after, H=37 if arch != "bi2" else 21, scale=1.5)
    path = tmp_path / f"m.{ext}"
    model.save(path)
    ck = load_checkpoint(path, vocab=TOKENS)
    assert ck.meta["convention"] == ("keras-reset-after" if reset_after else "keras-reset-before")
    tt = ck.trace(TEXT)

    x = keras_input(TEXT, arch.startswith("onehot"))
    cells = grus(model)
    recorders = [[Recorder(layer.cell) for layer in pair] for pair in cells]
    gru_layers = [la for la in model.layers if isinstance(la, (keras.layers.GRU,
                                                                keras.layers.Bidirectional))]
    probe = keras.Model(model.inputs, [la.output for la in gru_layers] + [model.outputs[0]])
    *hs, probs = [t.detach()[0] for t in probe(x)]
    T = len(TEXT)
    for layer, h in enumerate(hs):
        H = h.shape[1] // len(cells[layer])
        for d, rec in enumerate(recorders[layer]):
            assert torch.equal(tt.gate("h", layer, d), h[:, d * H : (d + 1) * H]), (layer, d)
            for name, want in rec.gates(T, reverse=d == 1).items():
                assert torch.equal(tt.gate(name, layer, d), want), (name, layer, d)
    want = probs if reset_after else torch.softmax(probs, -1)  # linear head: Keras's logits
    assert torch.equal(tt.probs, want)
    assert torch.equal(tt.output, hs[-1])


def test_saturated_weights_and_h_not_a_multiple_of_32(tmp_path):
    for reset_after in (True, False):
        model = build("emb1", reset_after, H=45, scale=6.0, seed=3)
        model.save(tmp_path / "s.keras")
        tt = load_checkpoint(tmp_path / "s.keras", vocab=TOKENS).trace(TEXT * 3)
        ref = model(keras_input(TEXT * 3, False)).detach()[0]
        want = ref if reset_after else torch.softmax(ref, -1)
        assert torch.equal(tt.probs, want)
        assert (tt.gate("z") > 0.999).any()  # the weights do saturate the gates


def test_the_course_formula_is_what_reset_before_computes(tmp_path):
    """keras-reset-before's step is the lecture's hh = tanh(x·W_h + b_h + (r ⊙ h_prev)·U_h)."""
    model = build("emb1", False, H=11, seed=5)
    model.save(tmp_path / "c.keras")
    tt = load_checkpoint(tmp_path / "c.keras", vocab=TOKENS).trace(TEXT)
    k, rk, b = (torch.tensor(v) for v in model.layers[1].get_weights())
    H = 11
    for t in (0, 5, 17):
        x, h_prev = tt.layer_inputs[0][t], tt.gate("h_prev", 0, 0, t)
        r = tt.gate("r", 0, 0, t)
        hh = torch.tanh(x @ k[:, 2 * H :] + b[2 * H :] + (r * h_prev) @ rk[:, 2 * H :])
        torch.testing.assert_close(tt.gate("n", 0, 0, t), hh, rtol=0, atol=1e-6)
        w = tt.weights()
        step = __import__("gru_core").CONVENTIONS["keras-reset-before"].step(x, h_prev, w)
        torch.testing.assert_close(step["h"], tt.gate("h", 0, 0, t), rtol=0, atol=1e-6)


def test_loader_imports_neither_keras_nor_tensorflow(tmp_path):
    build("bi1", False).save(tmp_path / "m.keras")
    code = ("import sys, gru_core; ck = gru_core.load_checkpoint(sys.argv[1], vocab=list("
            f"{''.join(TOKENS)!r})); ck.trace('abc'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.keras")], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out.strip() == "[]"


TF_SCRIPT = r"""
import os, sys, json
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
outs = [model.layers[i].output for i in range(len(model.layers))]
probe = keras.Model(model.inputs, outs)
np.savez(sys.argv[3], *[np.asarray(o)[0] for o in probe(x)])
print(keras.backend.backend())
"""


@pytest.mark.parametrize("scale", [None, 0.5], ids=["keras_init", "normal_0.5"])
@pytest.mark.parametrize("arch,reset_after", [("emb2", True), ("emb2", False),
                                              ("bi1", True), ("onehot1", False)])
def test_tensorflow_agrees_within_the_measured_bound(arch, reset_after, scale, tmp_path):
    pytest.importorskip("tensorflow")
    model = build(arch, reset_after, H=37 if arch != "bi1" else 19, scale=scale)
    model.save(tmp_path / "m.keras")
    x = keras_input(TEXT, arch.startswith("onehot")).numpy()
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run([sys.executable, "-c", TF_SCRIPT, str(tmp_path / "m.keras"),
                          str(tmp_path / "x.npy"), str(tmp_path / "out.npz")],
                         capture_output=True, text=True, env={**os.environ,
                                                              "KERAS_BACKEND": "tensorflow"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("tensorflow")
    tf = np.load(tmp_path / "out.npz")
    tf = [torch.from_numpy(tf[f"arr_{i}"]) for i in range(len(tf.files))]
    tt = load_checkpoint(tmp_path / "m.keras", vocab=TOKENS).trace(TEXT)
    probs_tf = tf[-1] if reset_after else torch.softmax(tf[-1], -1)
    diff = (tt.probs - probs_tf).abs().max().item()
    gru_out = tf[-2]
    diff_h = (tt.output - gru_out).abs().max().item()
    print(f"TF vs Keras-on-torch ({arch}, reset_after={reset_after}): probs {diff:.2e}, "
          f"h {diff_h:.2e}")
    assert 0 < max(diff, diff_h) < TF_BOUND[scale]  # not bitwise: TF's own kernels (oneDNN)


# --- hostile and unsupported files --------------------------------------------------------

def _rewrite(path, config=None, weights=None) -> bytes:
    """The .keras file at path with its config.json and/or model.weights.h5 replaced."""
    src = zipfile.ZipFile(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "config.json" and config is not None:
                data = json.dumps(config(json.loads(data))).encode()
            if name == "model.weights.h5" and weights is not None:
                data = weights(data)
            out.writestr(name, data)
    return buf.getvalue()


def test_a_lambda_layer_is_named_and_never_run(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("GRU_LAMBDA_MARKER", str(marker))
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(V, 8),
                              keras.layers.Lambda(lambda x: (open(  # noqa: SIM115
                                  __import__("os").environ["GRU_LAMBDA_MARKER"], "w"), x)[1]),
                              keras.layers.GRU(8, return_sequences=True),
                              keras.layers.Dense(V)])
    model.save(tmp_path / "lam.keras")
    marker.unlink(missing_ok=True)  # Keras ran it to build the model; loading must not
    with pytest.raises(CheckpointError, match=r"'lambda' \(Lambda\) cannot be stepped.*recompute"):
        load_checkpoint(tmp_path / "lam.keras", vocab=TOKENS)
    assert not marker.exists()


def test_a_conv_front_is_refused_by_name(tmp_path):
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(V, 8),
                              keras.layers.Conv1D(8, 3, padding="same"),
                              keras.layers.GRU(8, return_sequences=True), keras.layers.Dense(V)])
    model.save(tmp_path / "conv.h5")
    with pytest.raises(CheckpointError, match=r"\(Conv1D\) cannot be stepped.*GRU alone"):
        load_checkpoint(tmp_path / "conv.h5", vocab=TOKENS)


def test_unknown_layer_names_and_wrong_shapes_are_refused(tmp_path):
    build("emb1", True).save(tmp_path / "m.keras")

    def unknown(cfg):
        cfg["config"]["layers"][-1]["class_name"] = "EvilLayer"
        return cfg
    with pytest.raises(CheckpointError, match=r"\(EvilLayer\) cannot be stepped"):
        load_checkpoint(_rewrite(tmp_path / "m.keras", config=unknown), vocab=TOKENS)

    def wrong_shape(data):
        buf = io.BytesIO(data)
        with h5py.File(buf, "r+") as f:
            del f["layers/gru/cell/vars/1"]
            f["layers/gru/cell/vars/1"] = np.zeros((37, 90), np.float32)
        return buf.getvalue()
    with pytest.raises(CheckpointError, match=r"recurrent_kernel has shape \(37, 90\), "
                                              r"expected \(37, 111\)"):
        load_checkpoint(_rewrite(tmp_path / "m.keras", weights=wrong_shape), vocab=TOKENS)


@pytest.mark.parametrize("size", [80 * 2**20, 8 * 2**20])
def test_a_compressed_bomb_is_refused_before_unpacking(size, tmp_path):
    build("emb1", True).save(tmp_path / "m.keras")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("config.json", zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))
        out.writestr("model.weights.h5", b"\0" * size)
    with pytest.raises(CheckpointError, match="refused before unpacking"):
        load_checkpoint(buf.getvalue(), vocab=TOKENS)


def test_weights_only_and_other_messages(tmp_path):
    model = build("emb1", True)
    model.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(CheckpointError, match="weights only.*architecture"):
        load_checkpoint(tmp_path / "m.weights.h5", vocab=TOKENS)
    model.save(tmp_path / "m.keras")
    with pytest.raises(CheckpointError, match="carries no vocabulary"):
        load_checkpoint(tmp_path / "m.keras")
    with pytest.raises(CheckpointError, match="reads 13 tokens but the vocabulary has 12"):
        load_checkpoint(tmp_path / "m.keras", vocab=TOKENS[:-1])


def test_readme_your_keras_model_runs_and_opens_in_the_app(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ..project.test_readme import run, snippets
    monkeypatch.chdir(tmp_path)
    (code,) = [c for h, c in snippets("README.md") if h == "Your own model" and ".keras" in c]
    printed = run(code, "README.md (Your own model, Keras)")
    assert list(printed.values())[-1] == "True"  # the README's `# True`: Keras's own bits
    (tmp_path / "course.vocab.json").write_text(json.dumps(sorted(set(
        "the cats, which already ate the fish, were full."))))
    # as `make run STREAMLIT_ARGS="-- --model course.keras --vocab course.vocab.json"` starts it
    monkeypatch.setattr(sys, "argv", ["app.py", "--model", "course.keras", "--vocab",
                                      "course.vocab.json"])
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"ckpt": "course", "text": "the cats, which already ate the fish.",
                            "t": "4", "unit": "0"})
    at.run()
    assert not at.exception and not at.error
    shown = "\n".join(c.value for c in at.caption)
    assert "Whose numbers: Keras 3 GRU (reset_after=False, the lecture's formula)" in shown


def test_a_float64_keras_model_is_refused_not_approximated(tmp_path):
    keras.config.set_dtype_policy("float64")
    try:
        model = build("emb1", True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.layers[1].cell.kernel.dtype == "float64"
    model.save(tmp_path / "f64.keras")
    with pytest.raises(CheckpointError, match="dtype policy is .float64.: only float32 Keras GRUs"):
        load_checkpoint(tmp_path / "f64.keras", vocab=TOKENS)
