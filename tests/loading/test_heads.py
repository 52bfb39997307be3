"""Heads beyond next-token: classifiers, taggers and per-step sigmoids, from Keras files (3 and
2) and PyTorch state_dicts, each against its framework."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

keras = pytest.importorskip("keras")

from gru_core import load_checkpoint  # noqa: E402

TOKENS = list("abcdefghijklm")
TEXT = "abcmlkjihgfedcbaabcde"
L = keras.layers


def ids(text: str) -> np.ndarray:
    return np.array([[TOKENS.index(c) for c in text]])


def test_a_keras_classifier_gives_every_prefix_its_own_output(tmp_path):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(13, 8),
                              L.GRU(10), L.Dense(3, activation="softmax")])
    model.save(tmp_path / "c.keras")
    ck = load_checkpoint(tmp_path / "c.keras", vocab=TOKENS, labels=["neg", "neu", "pos"])
    assert ck.meta["head"] == "classifier" and ck.labels == ("neg", "neu", "pos")
    tt = ck.trace(TEXT)
    assert tt.probs.shape == (len(TEXT), 3)
    for t in (0, 7, len(TEXT) - 1):  # row t: the model's own output had the text ended at t
        want = model(ids(TEXT[: t + 1])).detach()[0]
        assert torch.equal(tt.probs[t], want), t
    assert tt.top_next(len(TEXT) - 1, 1)[0][0] in ck.labels


def test_a_keras_bigru_tagger_is_not_a_vocabulary_mismatch(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(13, 8),
                              L.Bidirectional(L.GRU(9, return_sequences=True)),
                              L.TimeDistributed(L.Dense(21, activation="softmax"))])
    model.save(tmp_path / "t.h5")
    ck = load_checkpoint(tmp_path / "t.h5", vocab=TOKENS)
    assert ck.meta["head"] == "tagger" and ck.labels == tuple(str(i) for i in range(21))
    assert torch.equal(ck.trace(TEXT).probs, model(ids(TEXT)).detach()[0])


class Tagger(nn.Module):
    """The shape of a PyPI BiGRU morphological tagger: 49 characters -> 746 tags."""

    def __init__(self, batch_first: bool, tags: int):
        super().__init__()
        self.emb = nn.Embedding(49, 16)
        self.rnn = nn.GRU(16, 24, bidirectional=True, batch_first=batch_first)
        self.fc = nn.Linear(48, tags)
        self.batch_first = batch_first

    def forward(self, idx):  # (1, T) or (T, 1)
        out, _ = self.rnn(self.emb(idx))
        return self.fc(out)


@pytest.mark.parametrize("batch_first", [True, False])
def test_a_pytorch_tagger_opens_with_its_head(batch_first, tmp_path):
    torch.manual_seed(0)
    model = Tagger(batch_first, 746).eval()
    torch.save(model.state_dict(), tmp_path / "tagger.pt")
    vocab = [chr(ord("A") + i) for i in range(49)]
    ck = load_checkpoint(tmp_path / "tagger.pt", vocab=vocab)
    assert ck.meta["head"] == "tagger" and len(ck.labels) == 746
    text = "ABCXYZabcdef"
    idx = torch.tensor([vocab.index(c) for c in text])
    with torch.no_grad():
        logits = model(idx[None] if batch_first else idx[:, None])
    logits = logits[0] if batch_first else logits[:, 0]
    torch.testing.assert_close(ck.trace(text).probs, torch.softmax(logits, -1), rtol=0,
                               atol=1e-6)


def test_a_pytorch_binary_classifier_reads_its_logit_as_a_probability(tmp_path):
    torch.manual_seed(1)
    model = Tagger(True, 1).eval()
    torch.save(model.state_dict(), tmp_path / "bin.pt")
    vocab = [chr(ord("A") + i) for i in range(49)]
    ck = load_checkpoint(tmp_path / "bin.pt", vocab=vocab, labels=["positive"])
    probs = ck.trace("ABC").probs
    assert ck.meta["head_activation"] == "sigmoid" and probs.shape == (3, 1)
    assert ((probs > 0) & (probs < 1)).all()


KERAS2 = r"""
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf, tf_keras as k
tf.random.set_seed(0)
inp = k.Input((None,), dtype="int32")
x = k.layers.Embedding(13, 9)(inp)
x = k.layers.GRU(17, return_sequences=True, reset_after=sys.argv[2] == "after")(x)
out = k.layers.Dense(13, activation="softmax")(x)
m = k.Model(inp, out)
for w in m.weights:
    w.assign(tf.random.normal(w.shape, seed=1) * 0.5)
m.save(sys.argv[1] + ".h5")
m.save(sys.argv[1] + ".keras")
x = np.array([[int(c) for c in sys.argv[3].split(",")]])
probe = k.Model(inp, [m.layers[2].output, out])
h, p = probe(x)
np.savez(sys.argv[1] + ".npz", h=h.numpy()[0], p=p.numpy()[0])
"""


@pytest.mark.parametrize("reset", ["after", "before"])
def test_keras2_functional_files_open_within_2e_6_of_tensorflow(reset, tmp_path):
    pytest.importorskip("tf_keras")
    base = str(tmp_path / "k2")
    run = subprocess.run([sys.executable, "-c", KERAS2, base, reset,
                          ",".join(str(TOKENS.index(c)) for c in TEXT)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    ref = np.load(base + ".npz")
    for ext in ("h5", "keras"):
        tt = load_checkpoint(f"{base}.{ext}", vocab=TOKENS).trace(TEXT)
        dh = (tt.output - torch.from_numpy(ref["h"])).abs().max().item()
        dp = (tt.probs - torch.from_numpy(ref["p"])).abs().max().item()
        print(f"TensorFlow (tf_keras) vs replay, reset_{reset}, .{ext}: h {dh:.1e}, p {dp:.1e}")
        assert max(dh, dp) < 2e-6, (ext, dh, dp)


def test_the_docs_examples_run(capsys, monkeypatch):
    import re

    from ..conftest import ROOT
    monkeypatch.chdir(ROOT)
    text = (ROOT / "docs" / "heads-and-features.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "docs/heads-and-features.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("sigmoid Conv1D 'conv1d': 101 -> 16")
    assert "'activate'" in out and "tagger 746 torch.Size([4, 746])" in out


def test_what_if_and_reset_read_a_one_logit_head_through_its_sigmoid(tmp_path):
    """The counterfactual views' probabilities go through the head's own activation: a
    one-logit head is a sigmoid (a softmax over one logit would say 1.0 whatever happened)."""
    from gru_core import reset_counterfactual, what_if

    torch.manual_seed(2)
    model = nn.ModuleDict({"emb": nn.Embedding(49, 16), "rnn": nn.GRU(16, 24),
                           "fc": nn.Linear(24, 1)})
    torch.save(model.state_dict(), tmp_path / "bin.pt")
    vocab = [chr(ord("A") + i) for i in range(49)]
    tt = load_checkpoint(tmp_path / "bin.pt", vocab=vocab, labels=["positive"]).trace("ABCDEFG")
    actual = float(tt.gate("z", 0, 0, 2)[3])
    wi = what_if(tt, 2, 3, "z", actual, steps=5)  # the gate set to its own value: nothing moves
    torch.testing.assert_close(wi.probs_what_if, wi.probs, rtol=0, atol=1e-6)
    cf = reset_counterfactual(tt, 3)
    assert cf.probs_no_reset.shape == (1,) and 0 < float(cf.probs_no_reset[0]) < 1
