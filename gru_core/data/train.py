"""Train a character-level GRU and write a checkpoint: python -m gru_core.train --help

The recipe is char-rnn's: the training text is cut into B contiguous streams, read in windows of
seq_len characters, and h is carried (detached) from one window to the next, so the model learns
to use context longer than a window and is trained the way it is evaluated: one long pass.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from ..core import GRUConfig, TokenGRU, Vocab, save_checkpoint
from ..core.course_gru import CourseLM, save_keras
from . import agreement
from .corpus import build_vocab, evaluate, evaluate_lines, line_windows, read_corpus, split, windows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gru_core.train", description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=["text", "agreement", "agreement-words"], default="text",
                   help="text: a corpus read character by character; agreement: the course's "
                   "sentences, by character; agreement-words: the same, word by word")
    p.add_argument("--cell", choices=["gru", "rnn", "course"], default="gru",
                   help="rnn: a plain tanh nn.RNN, the course's contrast to the GRU; course: the "
                   "lecture's GRU (reset before the recurrent product, one bias per gate, "
                   "Keras's reset_after=False), one layer, one-hot input, written as a .keras "
                   "file with a .vocab.json and .meta.json beside it")
    p.add_argument("--embedding", type=int, default=0,
                   help="x_t = a learnt embedding of this width instead of the one-hot token")
    p.add_argument("--corpus", help="text file (task 'text'); its last 10%% is validation")
    p.add_argument("--out", required=True, help="checkpoint path to write")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--weight-drop", type=float, default=0.0,
                   help="DropConnect on W_hh (AWD-LSTM's weight drop): each batch zeroes this "
                   "share of the recurrent weights; the saved model uses all of them")
    p.add_argument("--windows", choices=["stream", "lines"], default="stream",
                   help="stream: consecutive windows with h carried across them (char-rnn); "
                   "lines: windows opening on random line starts, each from a zero state")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of the weights with this decay "
                   "(e.g. 0.999) and evaluate and save it instead of the last weights")
    p.add_argument("--z-bias", type=float, default=0.0,
                   help="initial bias of the update gate z (added to b_iz): > 0 starts every unit "
                   "leaning towards keeping h_prev, so gradients reach far back from the start")
    p.add_argument("--focus", default="",
                   help="a context string, e.g. ', w': the character right after it weighs "
                   "--focus-weight times the others in the loss")
    p.add_argument("--focus-weight", type=float, default=1.0)
    p.add_argument("--keep-best", action="store_true",
                   help="save the weights of the epoch with the lowest validation loss (as "
                   "char-rnn keeps its best checkpoint) instead of the last epoch's")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--device", default="cpu", help="e.g. cuda; training needs none")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    return p.parse_args(argv)


def load_task(args: argparse.Namespace) -> tuple[list[str], str, str, dict]:
    if args.task == "agreement":
        return agreement.make_task(seed=args.seed)
    if args.task == "agreement-words":
        return agreement.make_word_task(seed=args.seed)
    if not args.corpus:
        raise SystemExit("--corpus is required for --task text")
    text = read_corpus(args.corpus)
    train_text, val_text = split(text)
    meta = {
        "data": args.corpus.split("/")[-1],
        "data_chars": len(text),
        "split": "by position: train = text[:int(len(text) * 0.9)], validation = the rest",
    }
    return build_vocab(text), train_text, val_text, meta


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokens, train_text, val_text, meta = load_task(args)
    vocab = Vocab(tuple(tokens))
    train_data, val_data = vocab.encode(train_text), vocab.encode(val_text)
    args.focus_idx = vocab.encode(args.focus).tolist() if args.focus else []
    config = GRUConfig(input_size=args.embedding or len(vocab), hidden_size=args.hidden,
                       num_layers=args.layers)
    model = _model(args, config, vocab)
    with torch.no_grad():
        for k in range(args.layers if args.cell == "gru" else 0):
            getattr(model.gru, f"bias_ih_l{k}")[args.hidden : 2 * args.hidden] += args.z_bias
    model.to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = (len(train_data) - 1) // args.batch // args.seq_len - 1
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    ema = None
    if args.ema:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema))
    history, start, best_val = [], time.time(), float("inf")
    for epoch in range(1, args.epochs + 1):
        offset = int(torch.randint(0, args.seq_len, ()).item())
        train_loss = _epoch(model, opt, sched, train_data, args, offset, steps_per_epoch, epoch,
                            _sentence_end(vocab), ema)
        judged = model if ema is None else ema.module
        if args.windows == "lines":
            val_loss = evaluate_lines(judged.cpu(), val_data, _sentence_end(vocab))
        else:
            val_loss = evaluate(judged.cpu(), val_data)
        row = {"epoch": epoch, "train_loss": round(train_loss, 4), "val_loss": round(val_loss, 4)}
        if args.task.startswith("agreement"):
            row.update(agreement.report(judged, vocab, seed=args.seed))
        judged.to(args.device)
        model.to(args.device)
        history.append(row)
        if args.keep_best and val_loss < best_val:
            best_val = val_loss
            best = {k: v.detach().clone() for k, v in judged.state_dict().items()}, row
        tqdm.write("  ".join(f"{k} {v}" for k, v in row.items()))
    kept = history[-1]
    if args.keep_best:
        state, kept = best
        judged.load_state_dict(state)
    meta.update(
        {
            **{k: v for k, v in kept.items() if k != "epoch"},
            "kept_epoch": kept["epoch"],
            "val_loss_definition": ("mean next-word cross-entropy, nats/word, " if vocab.words
                                    else "mean next-character cross-entropy, nats/char, ")
            + ("each validation sentence read from a zero state" if args.windows == "lines"
               else "one pass over the validation text from a zero state"),
            "epochs": args.epochs,
            "history": history,
            "hyperparameters": {k: v for k, v in vars(args).items()
                                if k not in ("out", "corpus", "focus_idx")},
            "wall_time_s": round(time.time() - start, 1),
            "command": "python -m gru_core.train " + shlex.join(sys.argv[1:]),
            "torch": str(torch.__version__),
        }
    )
    if args.cell == "course":
        save_course(args.out, judged.cpu(), vocab, meta)
    else:
        save_checkpoint(args.out, judged.cpu(), vocab, meta)
    return meta


def _model(args: argparse.Namespace, config: GRUConfig, vocab: Vocab) -> torch.nn.Module:
    if args.cell != "course":
        return TokenGRU(config, len(vocab), embedding=bool(args.embedding),
                        dropout=args.dropout, cell=args.cell)
    if args.layers != 1 or args.embedding or args.dropout or args.weight_drop:
        raise SystemExit("--cell course is one layer over one-hot input, without dropout")
    return CourseLM(len(vocab), args.hidden)


def save_course(out: str, model: CourseLM, vocab: Vocab, meta: dict) -> None:
    """out.keras (written by Keras), out.vocab.json (the tokens in one-hot order) and
    out.meta.json (what a .pt checkpoint keeps in its meta) beside it."""
    stem = Path(out).with_suffix("")
    Path(f"{stem}.vocab.json").write_text(json.dumps(list(vocab.tokens)) + "\n")
    Path(f"{stem}.meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    torch.save(model.state_dict(), f"{stem}.state.pt")  # kept until Keras has written the file
    save_keras(out, model)
    Path(f"{stem}.state.pt").unlink()


def _sentence_end(vocab: Vocab) -> int:
    """The token that ends a line: the newline for characters, the full stop for words."""
    end = "." if vocab.words else "\n"
    return vocab.index(end) if end in vocab.tokens else -1


def weight_dropped(model: torch.nn.Module, p: float) -> dict[str, torch.Tensor]:
    """The model's parameters with dropout applied to every weight_hh (gradients still reach
    the originals): the regulariser RNN language models gain most from (Merity et al., 2017)."""
    params = dict(model.named_parameters())
    for name, w in params.items():
        if ".weight_hh_l" in name:
            params[name] = F.dropout(w, p, training=True)
    return params


def focus(x: torch.Tensor, args: argparse.Namespace) -> torch.Tensor:
    """(T*B,) loss weights: focus_weight where the window reads args.focus_idx just before."""
    w = torch.ones(x.shape, device=x.device)
    k = len(args.focus_idx)
    if k and args.focus_weight != 1 and x.shape[0] >= k:
        hit = torch.ones_like(x[k - 1 :], dtype=torch.bool)
        for j, c in enumerate(args.focus_idx):  # x[t - k + 1 + j] == c for every j
            hit &= x[j : x.shape[0] - k + 1 + j] == c
        w[k - 1 :][hit] = args.focus_weight
    return w.view(-1)


def _epoch(model, opt, sched, data, args, offset, steps, epoch, newline, ema) -> float:
    model.train()
    h, total, count = None, 0.0, 0
    carry = args.windows == "stream"
    if carry:
        batches = windows(data, args.batch, args.seq_len, offset)
    else:
        batches = line_windows(data, newline, args.batch, args.seq_len, steps)
    for x, y in tqdm(batches, total=steps, desc=f"epoch {epoch}", leave=False):
        if count == steps:
            break
        x, y = x.to(args.device), y.to(args.device)
        h = h.detach() if (carry and h is not None) else None
        if args.weight_drop:
            logits, h = functional_call(model, weight_dropped(model, args.weight_drop), (x, h))
        else:
            logits, h = model(x, h)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        loss = (loss * focus(x, args)).sum() / x.numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if ema is not None:
            ema.update_parameters(model)
        total, count = total + loss.item(), count + 1
    return total / count


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
