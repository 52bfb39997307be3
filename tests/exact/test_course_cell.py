"""CourseGRU, the lecture's GRU the agreement-course model is trained with, against Keras's own
GRU(reset_after=False) holding the same weights (Keras 3 on the torch backend).

Float32: the unbatched path the stepper uses (replay_keras on the module's cell) is Keras's bit
for bit, random and saturated weights, one-hot and dense inputs; the training forward is too on
one-hot input (x·kernel then picks one row, in any order of operations), batched or not; on a
dense input its one product over all steps rounds differently: measured 1.2e-7 at most.
Float64: Keras's own float64 run is not float64 throughout (keras_file refuses such files), so
it is held to a measured bound; the training forward and replay_keras agree to ~1e-16.
"""

from __future__ import annotations

import json
import os

os.environ["KERAS_BACKEND"] = "torch"

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

keras = pytest.importorskip("keras")  # requirements-test.txt

from gru_core import load_checkpoint  # noqa: E402
from gru_core.core.convention import replay_keras  # noqa: E402
from gru_core.core.course_gru import CourseGRU, CourseLM, save_keras  # noqa: E402
from gru_core.core.keras_model import KerasGRU  # noqa: E402

N_IN, H, T = 13, 45, 40  # H not a multiple of 32
DENSE_BOUND = 2e-7  # measured 1.2e-7: float32 training forward vs Keras on a dense input
KERAS_F64_BOUND = 2e-7  # measured 9.6e-8: float64 forward vs Keras's float64 run, own init


def course_gru(dtype: torch.dtype, scale: float | None, seed: int = 0) -> CourseGRU:
    """Our initialisation (Keras's: glorot, orthogonal, zero bias), or N(0, scale²) weights;
    scale 6 saturates the gates."""
    torch.manual_seed(seed)
    g = CourseGRU(N_IN, H).to(dtype)
    if scale:
        with torch.no_grad():
            for p in g.parameters():
                p.copy_(torch.randn_like(p) * scale)
    return g


def keras_gru(g: CourseGRU):
    dtype = "float64" if g.kernel.dtype == torch.float64 else "float32"
    keras.config.set_dtype_policy(dtype)
    try:
        model = keras.Sequential([keras.Input((None, N_IN)), keras.layers.GRU(
            H, reset_after=False, return_sequences=True)])
    finally:
        keras.config.set_dtype_policy("float32")
    model.set_weights([p.detach().numpy() for p in (g.kernel, g.recurrent_kernel, g.bias)])
    return model


def inputs(B: int, one_hot: bool, dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if one_hot:
        return F.one_hot(torch.randint(0, N_IN, (B, T), generator=gen), N_IN).to(dtype)
    return torch.randn(B, T, N_IN, generator=gen, dtype=dtype)


@pytest.mark.parametrize("one_hot", [True, False], ids=["one-hot", "dense"])
@pytest.mark.parametrize("scale", [None, 6.0], ids=["init", "saturated"])
def test_the_stepper_path_is_keras_bit_for_bit(scale, one_hot):
    g = course_gru(torch.float32, scale)
    x = inputs(1, one_hot, torch.float32)
    want = keras_gru(g)(x).detach()
    out, terms = replay_keras(g.cell(), x)
    assert torch.equal(out, want)
    assert torch.equal(KerasGRU([[g.cell()]])(x[0])[0], want[0])
    if scale:
        assert ((terms["z"] > 0.999) | (terms["z"] < 0.001)).float().mean() > 0.3  # saturated


@pytest.mark.parametrize("B", [1, 16])
@pytest.mark.parametrize("scale", [None, 6.0], ids=["init", "saturated"])
def test_the_training_forward_is_keras_bit_for_bit_on_one_hot_input(scale, B):
    g = course_gru(torch.float32, scale)
    x = inputs(B, True, torch.float32)
    with torch.no_grad():
        out, h = g(x)
    want = keras_gru(g)(x).detach()
    assert torch.equal(out, want) and torch.equal(h, want[:, -1])


@pytest.mark.parametrize("B", [1, 16])
def test_the_training_forward_on_a_dense_input_is_within_the_measured_bound(B):
    g = course_gru(torch.float32, None)
    x = inputs(B, False, torch.float32)
    with torch.no_grad():
        out, _ = g(x)
    assert (out - keras_gru(g)(x).detach()).abs().max() <= DENSE_BOUND


@pytest.mark.parametrize("one_hot", [True, False], ids=["one-hot", "dense"])
def test_float64(one_hot):
    g = course_gru(torch.float64, None)
    x = inputs(4, one_hot, torch.float64)
    with torch.no_grad():
        out, _ = g(x)
    assert out.dtype == torch.float64
    for b in range(4):  # the training forward and Keras's op order, both in float64
        torch.testing.assert_close(out[b : b + 1], replay_keras(g.cell(), x[b : b + 1])[0],
                                   rtol=0, atol=1e-14)
    keras_out = keras_gru(g)(x).detach()
    assert keras_out.dtype == torch.float64
    assert (out - keras_out).abs().max() <= KERAS_F64_BOUND


def test_the_forward_is_the_lecture_formula():
    """c̃ = tanh(W_c x + U_c (Γr ⊙ c_prev) + b_c), c = Γz ⊙ c_prev + (1 − Γz) ⊙ c̃, in float64."""
    g = course_gru(torch.float64, 1.0)
    x = inputs(1, False, torch.float64)[0]
    W, U, b = g.kernel.detach(), g.recurrent_kernel.detach(), g.bias.detach()
    (Wz, Wr, Wc), (Uz, Ur, Uc), (bz, br, bc) = (m.split(H, -1) for m in (W, U, b))
    with torch.no_grad():
        out, _ = g(x.unsqueeze(0))
    for t in range(T):  # each step from the module's own c_prev (errors would compound)
        c = out[0, t - 1] if t else torch.zeros(H, dtype=torch.float64)
        gz = torch.sigmoid(x[t] @ Wz + c @ Uz + bz)
        gr = torch.sigmoid(x[t] @ Wr + c @ Ur + br)
        c_tilde = torch.tanh(x[t] @ Wc + (gr * c) @ Uc + bc)
        c = gz * c + (1 - gz) * c_tilde
        torch.testing.assert_close(out[0, t], c, rtol=0, atol=1e-12)


def test_save_keras_writes_what_keras_and_the_loader_read_alike(tmp_path):
    torch.manual_seed(0)
    tokens = list("abcdefghijklm")
    lm = CourseLM(len(tokens), 21)
    with torch.no_grad():
        for p in lm.parameters():
            p.mul_(3.0)
    save_keras(str(tmp_path / "m.keras"), lm)
    model = keras.saving.load_model(tmp_path / "m.keras")
    assert not model.layers[0].reset_after
    ck = load_checkpoint(tmp_path / "m.keras", vocab=json.loads(json.dumps(tokens)))
    assert ck.meta["convention"] == "keras-reset-before"
    text = "abcmlkjihgfedcba"
    ids = torch.tensor([tokens.index(c) for c in text])
    logits = model(F.one_hot(ids, len(tokens)).float().unsqueeze(0)).detach()[0]
    assert torch.equal(ck.trace(text).probs, torch.softmax(logits, -1))
    with torch.no_grad():
        ours, _ = lm(ids.unsqueeze(1))
    torch.testing.assert_close(ours[:, 0], logits, rtol=0, atol=1e-5)  # nn.Linear vs Dense


def test_the_trainer_writes_a_keras_file_with_its_vocabulary_and_record(tmp_path):
    import random
    import subprocess
    import sys

    from ..conftest import ROOT

    rng = random.Random(0)
    words = ["the cat sat", "a dog ran", "we sing", "to the sea", "it rains"]
    (tmp_path / "tiny.txt").write_text("\n".join(rng.choice(words) + "." for _ in range(1500)))
    out = tmp_path / "tiny.keras"
    cmd = [sys.executable, "-m", "gru_core.train", "--cell", "course", "--corpus",
           str(tmp_path / "tiny.txt"), "--out", str(out), "--hidden", "16", "--epochs", "2",
           "--batch", "16", "--seq-len", "32", "--lr", "1e-2", "--threads", "1"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    vocab = json.loads((tmp_path / "tiny.vocab.json").read_text())
    meta = json.loads((tmp_path / "tiny.meta.json").read_text())
    assert len(meta["history"]) == 2 and meta["history"][-1]["val_loss"] < meta["history"][0][
        "val_loss"]
    assert meta["command"].startswith("python -m gru_core.train --cell course")
    assert not (tmp_path / "tiny.state.pt").exists()  # removed once Keras wrote the file
    ck = load_checkpoint(out, vocab=vocab)
    assert ck.meta["convention"] == "keras-reset-before" and ck.config.hidden_size == 16
