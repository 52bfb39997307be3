"""Checkpoints: a round trip, and every broken or hostile file refused with a clear message."""

import io
import os
import pickle
import random

import pytest
import torch

from gru_core import CheckpointError, GRUConfig, TokenGRU, UnknownTokens, load_checkpoint
from gru_core.core import checkpoint as ckpt_mod
from gru_core.core.checkpoint import FORMAT, save_checkpoint

VOCAB = list("abc .")


def _valid(tmp_path, hidden=8, layers=1, dtype=torch.float32):
    torch.manual_seed(0)
    model = TokenGRU(GRUConfig(len(VOCAB), hidden, layers)).to(dtype)
    path = tmp_path / "ok.pt"
    save_checkpoint(path, model, VOCAB, {"note": "test"})
    return path, model


def _obj(tmp_path, **changes):
    path, _ = _valid(tmp_path)
    obj = torch.load(path, weights_only=True)
    obj.update(changes)
    return obj


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_matches_plain_nn_gru_and_linear(tmp_path, dtype):
    path, _ = _valid(tmp_path, layers=2, dtype=dtype)
    ck = load_checkpoint(path)
    assert ck.config == GRUConfig(5, 8, 2) and list(ck.vocab.tokens) == VOCAB
    assert ck.meta == {"note": "test"}
    assert list(load_checkpoint(path.read_bytes()).vocab.tokens) == VOCAB
    raw = torch.load(path, weights_only=True)["state_dict"]
    gru, head = torch.nn.GRU(5, 8, num_layers=2).to(dtype), torch.nn.Linear(8, 5).to(dtype)
    gru.load_state_dict({k[4:]: v for k, v in raw.items() if k.startswith("gru.")})
    head.load_state_dict({k[5:]: v for k, v in raw.items() if k.startswith("head.")})
    text = "abc. cab a"
    x = torch.nn.functional.one_hot(torch.tensor([VOCAB.index(c) for c in text]), 5).to(dtype)
    with torch.no_grad():
        out, _ = gru(x)
        probs = torch.softmax(head(out), -1)
    tt = ck.trace(text)
    assert torch.equal(tt.output, out)
    torch.testing.assert_close(tt.probs, probs)
    torch.testing.assert_close(tt.probs.sum(-1), torch.ones(len(text), dtype=dtype))
    assert torch.equal(ck.encode(text), x)
    assert tt.top_next(0, k=2)[0][1] >= tt.top_next(0, k=2)[1][1]


def test_unknown_characters_are_named_with_positions(tmp_path):
    ck = load_checkpoint(_valid(tmp_path)[0])
    with pytest.raises(UnknownTokens) as err:
        ck.encode("abXc Z!")
    assert err.value.tokens == ["!", "X", "Z"] and err.value.positions == [2, 5, 6]
    assert "'X'" in str(err.value) and "2, 5, 6" in str(err.value)
    with pytest.raises(ValueError, match="empty"):
        ck.encode("")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gru_stepper_pwned",))


def test_pickle_with_arbitrary_objects_is_refused_and_never_runs(tmp_path):
    marker = "/tmp/gru_stepper_pwned"
    if os.path.exists(marker):
        os.remove(marker)
    for payload in (pickle.dumps(_Evil()), _bytes({"format": FORMAT, "x": _Evil()})):
        with pytest.raises(CheckpointError, match="refused"):
            load_checkpoint(payload)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (random.Random(0).randbytes(4096), "not a readable checkpoint|refused"),
    (b"PK\x03\x04" + random.Random(1).randbytes(100), "not a readable checkpoint"),
])
def test_garbage_bytes(data, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(data)


def test_random_bytes_always_give_a_checkpoint_error():
    """Garbage trips torch's unpickler in many ways (IndexError, KeyError, ...): every one of
    them must reach the user as a CheckpointError, never as a traceback."""
    rng = random.Random(7)
    for _ in range(600):
        data = rng.randbytes(rng.choice([1, 7, 64, 4096]))
        with pytest.raises(CheckpointError, match="not a readable checkpoint|refused|empty"):
            load_checkpoint(data)


def test_truncated_file(tmp_path):
    data = _valid(tmp_path)[0].read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        with pytest.raises(CheckpointError, match="not a readable checkpoint|refused"):
            load_checkpoint(data[:cut])


def _broken_state(tmp_path, key, value):
    obj = _obj(tmp_path)
    obj["state_dict"][key] = value
    return obj


@pytest.mark.parametrize("make, message", [
    (lambda p: [1, 2, 3], "expected a dict"),
    (lambda p: torch.zeros(3), "expected a dict"),
    (lambda p: {k: v for k, v in _obj(p).items() if k != "vocab"}, "missing keys: vocab"),
    (lambda p: _obj(p, format="gru-stepper/99"), "unknown format"),
    (lambda p: _obj(p, config="big"), "'config' must be a dict"),
    (lambda p: _obj(p, config={**_obj(p)["config"], "hidden_size": "8"}), "must be int"),
    (lambda p: _obj(p, config={**_obj(p)["config"], "bias": 1}), "must be bool"),
    (lambda p: _obj(p, config={**_obj(p)["config"], "hidden_size": 10**6}), "outside"),
    (lambda p: _obj(p, config={k: v for k, v in _obj(p)["config"].items() if k != "bias"}),
     "config is missing: bias"),
    (lambda p: _obj(p, vocab=list("abcd")), "vocabulary has 4 characters but input_size is 5"),
    (lambda p: _obj(p, vocab=list("abca.")), "repeated"),
    # words are tokens too ("ab"), but never with spaces inside, empty, or not strings
    (lambda p: _obj(p, vocab=["a b", "c", "d", "e", "f"]), "is not a token"),
    (lambda p: _obj(p, vocab=["", "c", "d", "e", "f"]), "is not a token"),
    (lambda p: _obj(p, vocab=[1, "c", "d", "e", "f"]), "is not a token"),
    (lambda p: _obj(p, vocab=["x" * 65, "c", "d", "e", "f"]), "is not a token"),
    (lambda p: _obj(p, meta=[1]), "'meta' must be a dict"),
    (lambda p: _obj(p, state_dict=[1]), "dict of tensors"),
    (lambda p: _broken_state(p, "gru.weight_hh_l0", torch.zeros(24, 7)), r"shape \(24, 7\)"),
    (lambda p: _broken_state(p, "head.bias", torch.full((5,), float("nan"))), "NaN or infinite"),
    (lambda p: _broken_state(p, "head.bias", torch.tensor([0, 0, float("inf"), 0, 0])), "NaN"),
    (lambda p: _broken_state(p, "head.bias", torch.zeros(5, dtype=torch.int64)), "float32"),
    (lambda p: _broken_state(p, "head.bias", torch.zeros(5, dtype=torch.float64)), "mixes"),
    (lambda p: _broken_state(p, "gru.weight_ih_l1", torch.zeros(24, 8)), "unexpected"),
    (lambda p: {**_obj(p), "state_dict": {k: v for k, v in _obj(p)["state_dict"].items()
                                           if k != "head.weight"}}, "missing.*head.weight"),
])
def test_invalid_contents(tmp_path, make, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(_bytes(make(tmp_path)))


def test_size_limit_and_missing_path(tmp_path, monkeypatch):
    path, _ = _valid(tmp_path)
    monkeypatch.setattr(ckpt_mod, "MAX_BYTES", 100)
    for source in (path, path.read_bytes()):
        with pytest.raises(CheckpointError, match="larger than"):
            load_checkpoint(source)
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("layers, hidden, bidirectional, embedding", [
    (1, 8, False, False), (2, 33, False, False), (2, 16, True, False), (3, 100, False, True),
    (1, 12, True, True)])
def test_trace_size_is_known_before_the_trace(layers, hidden, bidirectional, embedding):
    """The server refuses or makes room by this estimate before it runs the GRU."""
    from gru_core import estimate_nbytes
    from gru_core.core.checkpoint import Checkpoint
    from gru_core.core.vocab import Vocab

    cfg = GRUConfig(12 if embedding else len(VOCAB), hidden, layers, bidirectional)
    module = TokenGRU(cfg, len(VOCAB), embedding=embedding)
    ck = Checkpoint(cfg, Vocab(tuple(VOCAB)), module)
    for T in (1, 2, 50, 700):
        tt = ck.trace(("abc ." * 200)[:T])
        held, estimate = tt.nbytes(), estimate_nbytes(ck, T)
        assert estimate == held or (T == 1 and estimate > held), (T, estimate, held)
