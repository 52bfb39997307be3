"""Bring your own GRU: plain state_dicts (.pt and .safetensors) of the models learners have, found
by shape and key suffix, traced bit for bit like the module itself; hostile files refused."""

import io
import itertools
import pickle
import string

import pytest
import safetensors.torch
import torch
from torch import nn

from gru_core import CheckpointError, load_checkpoint

PRINTABLE = list(string.printable)  # spro/char-rnn.pytorch's vocabulary


class CharRNN(nn.Module):
    """spro/char-rnn.pytorch's model (model.py), GRU variant, with its attribute names."""

    def __init__(self, input_size, hidden_size, output_size, n_layers=1, bidirectional=False):
        super().__init__()
        self.encoder = nn.Embedding(input_size, hidden_size)
        self.rnn = nn.GRU(hidden_size, hidden_size, n_layers, bidirectional=bidirectional)
        self.decoder = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)

    def run(self, ids):
        """The whole text at once: output, h_n, next-token probabilities."""
        out, h_n = self.rnn(self.encoder(ids).unsqueeze(1))
        return out[:, 0], h_n[:, 0], torch.softmax(self.decoder(out), -1)[:, 0]


class RNNModel(nn.Module):
    """d2l.ai's RNNModel (chapter 9.6): one-hot tokens -> rnn_layer -> linear."""

    def __init__(self, rnn_layer, vocab_size):
        super().__init__()
        self.rnn, self.vocab_size = rnn_layer, vocab_size
        D = 2 if rnn_layer.bidirectional else 1
        self.linear = nn.Linear(rnn_layer.hidden_size * D, vocab_size)

    def run(self, ids):
        X = nn.functional.one_hot(ids.unsqueeze(1), self.vocab_size).to(self.linear.weight.dtype)
        out, h_n = self.rnn(X)
        return out[:, 0], h_n[:, 0], torch.softmax(self.linear(out), -1)[:, 0]


def _save(module, tmp_path, kind):
    path = tmp_path / f"model.{kind}"
    sd = {k: v.contiguous() for k, v in module.state_dict().items()}
    if kind == "safetensors":
        safetensors.torch.save_file(sd, path)
    else:
        torch.save(sd, path)
    return path


TEXT = "To be, or not to be: that is the question.\n"


@pytest.mark.parametrize("layers, bidirectional, dtype, kind", list(itertools.product(
    (1, 2, 3), (False, True), (torch.float32, torch.float64), ("pt", "safetensors"))))
def test_char_rnn_state_dict_traces_like_the_module(tmp_path, layers, bidirectional, dtype, kind):
    torch.manual_seed(layers)
    model = CharRNN(100, 48, 100, layers, bidirectional).to(dtype).eval()
    ck = load_checkpoint(_save(model, tmp_path, kind), vocab=PRINTABLE)
    assert "nn.Embedding at 'encoder': 100 tokens × 48" in ck.meta["found"][0]
    assert any("head at 'decoder'" in f for f in ck.meta["found"])
    tt = ck.trace(TEXT)
    with torch.no_grad():
        out, h_n, probs = model.run(torch.tensor([PRINTABLE.index(c) for c in TEXT]))
    assert torch.equal(tt.output, out) and torch.equal(tt.h_n, h_n)
    assert torch.equal(tt.probs, probs)


@pytest.mark.parametrize("layers, bidirectional, dtype", list(itertools.product(
    (1, 2), (False, True), (torch.float32, torch.float64))))
def test_d2l_one_hot_state_dict_traces_like_the_module(tmp_path, layers, bidirectional, dtype):
    vocab = ["<unk>", " ", "e", "t", "a", "o", "b", ",", "T", "r", "n", "h", "q", "u", "s", "i",
             ":", ".", "\n"]
    torch.manual_seed(7)
    model = RNNModel(nn.GRU(len(vocab), 33, layers, bidirectional=bidirectional),
                     len(vocab)).to(dtype).eval()
    ck = load_checkpoint(_save(model, tmp_path, "pt").read_bytes(), vocab=vocab)
    assert ck.meta["found"][0].startswith("no embedding: x_t is one-hot")
    tt = ck.trace(TEXT)
    with torch.no_grad():
        out, h_n, probs = model.run(torch.tensor([vocab.index(c) for c in TEXT]))
    assert torch.equal(tt.output, out) and torch.equal(tt.h_n, h_n)
    assert torch.equal(tt.probs, probs)


def test_gru_alone_and_nested_state_dicts(tmp_path):
    gru = nn.GRU(5, 8)
    ck = load_checkpoint(_bytes(gru.state_dict()), vocab=list("abcde"))
    assert ck.trace("abcab").probs is None and "no head" in ck.meta["found"][-1]
    model = CharRNN(100, 16, 100)
    ck = load_checkpoint(_bytes({"model": model.state_dict(), "epoch": 3}), vocab=PRINTABLE)
    assert ck.meta["source"] == "plain state_dict (under 'model')"


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_a_whole_module_pickle_is_refused_with_the_line_that_fixes_it(tmp_path):
    model = CharRNN(100, 16, 100)
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    fix = r"torch\.save\(model\.state_dict\(\), \"model.pt\"\)"
    with pytest.raises(CheckpointError, match=fix):
        load_checkpoint(path, vocab=PRINTABLE)
    with pytest.raises(CheckpointError, match="CharRNN"):
        load_checkpoint(path, vocab=PRINTABLE)


@pytest.mark.parametrize("make, vocab, message", [
    (lambda: CharRNN(100, 16, 100).state_dict(), None, "carries no vocabulary"),
    (lambda: CharRNN(100, 16, 100).state_dict(), list("abc"), "the embedding 'encoder' has 100"),
    (lambda: nn.LSTM(5, 8).state_dict(), list("abcde"), "an LSTM"),
    (lambda: nn.RNN(5, 8).state_dict(), list("abcde"), "a plain RNN"),
    (lambda: {**{f"a.{k}": v for k, v in nn.GRU(5, 8).state_dict().items()},
              **{f"b.{k}": v for k, v in nn.GRU(5, 8).state_dict().items()}},
     list("abcde"), "2 GRUs found, at 'a', 'b'"),
    (lambda: {**nn.GRU(5, 8).state_dict(), "norm.weight": torch.ones(8),
              "norm.bias": torch.zeros(8)}, list("abcde"), "also holds norm.bias, norm.weight"),
    (lambda: {**nn.GRU(5, 8).state_dict(), "e1.weight": torch.zeros(5, 5),
              "e2.weight": torch.zeros(5, 5)}, list("abcde"), "more than one candidate"),
    (lambda: {k: v for k, v in nn.GRU(5, 8, 2).state_dict().items() if "l1" not in k or "ih" in k},
     list("abcde"), "incomplete"),
    (lambda: {**nn.GRU(5, 8).state_dict(), "weight_hh_l0": torch.full((24, 8), float("nan"))},
     list("abcde"), "NaN"),
    (lambda: {k: v.to(torch.int32) for k, v in nn.GRU(5, 8).state_dict().items()},
     list("abcde"), "float32 or float64"),
    (lambda: nn.GRU(5, 8).state_dict(), ["a", "b", "c", "d", "d"], "repeated"),
    (lambda: {"x": 1, "y": [torch.zeros(2)]}, list("abcde"), "not a state_dict"),
])
def test_unusable_state_dicts_are_named(make, vocab, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(_bytes(make()), vocab=vocab)


def test_hostile_safetensors_and_pickles():
    good = safetensors.torch.save(nn.GRU(5, 8).state_dict())
    huge_header = (2**31).to_bytes(8, "little") + good[8:]
    for data in (good[:40], huge_header, good[:-7]):
        with pytest.raises(CheckpointError, match="not a readable checkpoint"):
            load_checkpoint(data, vocab=list("abcde"))

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("touch /tmp/gru_stepper_pwned_sd",))

    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(pickle.dumps({"weight_ih_l0": Evil()}), vocab=list("abcde"))
