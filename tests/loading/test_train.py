"""The trainer end to end on a corpus the test writes itself, and the agreement data's split."""

import random
import re
import subprocess
import sys

import pytest
import torch

from gru_core import Vocab, load_checkpoint, minimal_pair_of
from gru_core.data import agreement
from gru_core.data.corpus import evaluate, line_windows, split, windows

from ..conftest import ROOT


@pytest.mark.parametrize("extra", [[], ["--ema", "0.95", "--dropout", "0.1"],
                                   ["--keep-best", "--weight-drop", "0.2"]],
                         ids=["plain", "ema-dropout", "best-weightdrop"])
def test_trainer_writes_a_loadable_checkpoint_whose_loss_went_down(tmp_path, extra):
    rng = random.Random(0)
    words = ["the cat sat", "a dog ran", "we sing", "to the sea", "it rains"]
    (tmp_path / "tiny.txt").write_text("\n".join(rng.choice(words) + "." for _ in range(3000)))
    out = tmp_path / "tiny.pt"
    cmd = [sys.executable, "-m", "gru_core.train", "--corpus", str(tmp_path / "tiny.txt"),
           "--out", str(out), "--hidden", "32", "--epochs", "3", "--batch", "16",
           "--seq-len", "32", "--lr", "1e-2", "--threads", "1", *extra]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"epoch 3 .*val_loss", run.stderr + run.stdout)
    ck = load_checkpoint(out)
    history = ck.meta["history"]
    assert len(history) == 3 and history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["val_loss"] < 0.5 * torch.log(torch.tensor(len(ck.vocab))).item()
    kept = min(history, key=lambda r: r["val_loss"]) if "--keep-best" in extra else history[-1]
    assert ck.meta["val_loss"] == kept["val_loss"] and ck.meta["kept_epoch"] == kept["epoch"]
    _, val_text = split((tmp_path / "tiny.txt").read_text())
    assert evaluate(ck.module, ck.vocab.encode(val_text)) == pytest.approx(
        kept["val_loss"], abs=1e-4)  # the saved weights are the ones that were judged
    assert ck.meta["command"].startswith("python -m gru_core.train --corpus")
    assert ck.meta["wall_time_s"] > 0 and ck.meta["epochs"] == 3
    assert list(ck.vocab.tokens) == sorted(set((tmp_path / "tiny.txt").read_text()))
    assert torch.load(out, weights_only=True)["format"] == "gru-stepper/1"
    assert ck.meta["hyperparameters"]["ema"] == (0.95 if "--ema" in extra else 0.0)


def test_split_is_by_position():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    train, val = split(text)
    assert train == text[:900] and val == text[900:]


def test_stream_windows_continue_each_other():
    data = torch.arange(1000)
    batches = list(windows(data, batch_size=4, seq_len=10))
    (x0, y0), (x1, _) = batches[0], batches[1]
    assert x0.shape == (10, 4)
    assert torch.equal(y0[:-1], x0[1:]) and torch.equal(x1[0], x0[-1] + 1)


def test_line_windows_open_on_line_starts():
    text = "ab\ncde\nf\nghij\n" * 50
    vocab = sorted(set(text))
    data = Vocab(tuple(vocab)).encode(text)
    nl = vocab.index("\n")
    for x, y in line_windows(data, nl, batch_size=8, seq_len=6, steps=5):
        first = [vocab[i] for i in x[0].tolist()]
        assert all(c in "acfg" for c in first)
        assert torch.equal(x[1:], y[:-1])


def test_agreement_task_holds_out_nouns_and_clauses():
    vocab, train_text, val_text, meta = agreement.make_task(seed=0, n_train=3000, n_val=200)
    words = set(re.findall(r"[a-z]+", train_text))
    assert meta["held_out_nouns"] and not (set(meta["held_out_nouns"]) & words)
    assert set(train_text) <= set(vocab) and set(val_text) <= set(vocab)
    assert set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'-") <= set(vocab)
    lines = train_text.splitlines()
    for line in lines[:300]:
        subject = line.split()[1].rstrip(",")
        assert (" were " in line) == subject.endswith("s")
    plain = sum(", which " not in line for line in lines) / len(lines)
    assert abs(plain - agreement.PLAIN) < 0.05
    prefixes = agreement.test_prefixes(seed=0, n=50, attractor=True)
    for text, is_plural in prefixes:
        subject = text.split(",")[0].split()[-1]
        clause = text.split(", which ")[1]
        forms = set(agreement.NOUNS) | {agreement.plural(n) for n in agreement.NOUNS}
        clause_nouns = [w for w in re.findall(r"[a-z]+", clause) if w in forms]
        assert subject.endswith("s") == is_plural and text.endswith(", w")
        assert clause_nouns and all(n.endswith("s") != is_plural for n in clause_nouns)
    for sg, pl in agreement.minimal_pairs(seed=0, n=10):
        noun = sg.split(",")[0].split()[-1]
        assert pl == sg.replace(f"{noun},", f"{agreement.plural(noun)},", 1) != sg


def test_training_clauses_never_open_like_a_held_out_template():
    vocab, train_text, _, meta = agreement.make_task(seed=0, n_train=3000, n_val=10)
    noun = "(?:" + "|".join(sorted({f(n) for n in agreement.NOUNS
                                     for f in (str, agreement.plural)}, key=len)[::-1]) + ")"
    held_out = [re.escape(c).replace(r"\{n\}", noun) for c in meta["held_out_clauses"]]
    clauses = [line.split(", which ", 1)[1].rsplit(", w", 1)[0]
               for line in train_text.splitlines() if ", which " in line]
    assert len(set(clauses)) > len(clauses) / 2  # mostly generated, hardly any repeats
    opens_like = re.compile(f"(?:{'|'.join(held_out)})(?: |$)")
    assert not [c for c in clauses if opens_like.match(c)]
    assert max(map(len, clauses)) <= 80


@pytest.mark.parametrize("noun, plural", [("cat", "cats"), ("box", "boxes"),
                                          ("peach", "peaches"), ("city", "cities"),
                                          ("jockey", "jockeys")])
def test_plural_and_minimal_pair(noun, plural):
    assert agreement.plural(noun) == plural
    sg, pl = minimal_pair_of(f"The {plural}, which ran, were late.")
    assert (sg, pl) == (f"The {noun}, which ran, w", f"The {plural}, which ran, w")


def test_focus_weights_the_character_after_the_context():
    from gru_core.data.train import focus, parse_args

    vocab = sorted(set("ab, w"))
    args = parse_args(["--out", "x.pt", "--focus", ", w", "--focus-weight", "10"])
    args.focus_idx = [vocab.index(c) for c in args.focus]
    text = "ab, wa, wb, a w"
    x = torch.tensor([vocab.index(c) for c in text]).unsqueeze(1)  # (T, B=1)
    w = focus(x, args)
    # the loss at position t predicts text[t + 1]: weighted where text[t-2 : t+1] == ", w"
    assert [i for i, v in enumerate(w.tolist()) if v == 10] == [4, 8]
    assert set(w.tolist()) == {1.0, 10.0}
