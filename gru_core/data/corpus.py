"""A training corpus: the vocabulary, the positional split, and char-rnn style streams of ids."""

from __future__ import annotations

from pathlib import Path

import torch

VAL_FRACTION = 0.1


def split(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Split by position, never shuffled: the validation text is the tail of the corpus."""
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


def read_corpus(path: str | Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def build_vocab(text: str) -> list[str]:
    return sorted(set(text))


def windows(data: torch.Tensor, batch_size: int, seq_len: int, offset: int = 0):
    """Yield (x, y) pairs of shape (seq_len, B); window k+1 of stream b continues window k.

    The text is cut into batch_size contiguous streams. Reading them window by window and
    carrying h across windows lets the model learn dependencies longer than one window
    (char-rnn's recipe).
    """
    data = data[offset:]
    n = (len(data) - 1) // batch_size
    x_all = data[: n * batch_size].view(batch_size, n).t()
    y_all = data[1 : n * batch_size + 1].view(batch_size, n).t()
    for start in range(0, n - seq_len + 1, seq_len):
        yield x_all[start : start + seq_len], y_all[start : start + seq_len]


def line_windows(data: torch.Tensor, newline: int, batch_size: int, seq_len: int, steps: int):
    """Yield (x, y) of shape (seq_len, B), each column starting at a random line start.

    For corpora of independent sentences: every window opens on a sentence read from a zero
    state, the way a user types one into the dashboard.
    """
    starts = torch.cat([torch.tensor([0]), (data == newline).nonzero()[:, 0] + 1])
    starts = starts[starts + seq_len + 1 <= len(data)]
    offsets = torch.arange(seq_len + 1)
    for _ in range(steps):
        rows = data[starts[torch.randint(len(starts), (batch_size,))].unsqueeze(1) + offsets]
        yield rows[:, :-1].t(), rows[:, 1:].t()


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: torch.Tensor, chunk: int = 4096) -> float:
    """Mean next-character loss in nats over one pass from a zero state, as the model will be used.

    The pass is cut in chunks only to bound memory; h is carried across chunks, so this is one
    long forward up to float rounding.
    """
    model.eval()
    total, h = 0.0, None
    for start in range(0, len(data) - 1, chunk):
        x = data[start : start + chunk].unsqueeze(1)
        y = data[start + 1 : start + chunk + 1].unsqueeze(1)
        x = x[: len(y)]
        logits, h = model(x, h)
        total += torch.nn.functional.cross_entropy(
            logits.view(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"
        ).item()
    return total / (len(data) - 1)


@torch.no_grad()
def evaluate_lines(model: torch.nn.Module, data: torch.Tensor, newline: int) -> float:
    """Mean next-character loss in nats, each line read from a zero state (as trained with
    --windows lines); the newline that ends a line is predicted, the next line is not."""
    model.eval()
    ends = ((data == newline).nonzero()[:, 0] + 1).tolist()
    total, count, start = 0.0, 0, 0
    for end in ends:
        line = data[start:end].unsqueeze(1)
        logits, _ = model(line[:-1])
        total += torch.nn.functional.cross_entropy(
            logits.view(-1, logits.shape[-1]), line[1:].reshape(-1), reduction="sum").item()
        count, start = count + len(line) - 1, end
    return total / count
