"""Independent references for the app tests: plain nn.GRU + nn.Linear from a checkpoint file, and
the GRU equations written out once more, without gru_core. The loop that replays nn.GRU's cell
operation for operation is the library's readable path (gru_core/core/reference.py), checked
against nn.GRU's own h by the tests that use it."""

import torch

from gru_core.core.reference import layer_steps as gru_cell_steps  # noqa: F401
from gru_core.core.reference import packed_steps as gru_cell_steps_batch  # noqa: F401

from .conftest import CHECKPOINTS


def plain_model(name: str):
    raw = torch.load(CHECKPOINTS / f"{name}.pt", weights_only=True)
    cfg, sd = raw["config"], raw["state_dict"]
    gru = torch.nn.GRU(cfg["input_size"], cfg["hidden_size"], num_layers=cfg["num_layers"])
    gru.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("gru.")})
    head = torch.nn.Linear(cfg["hidden_size"], cfg["input_size"])
    head.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("head.")})
    return gru, head, raw["vocab"]


def one_hot(text: str, vocab: list[str]) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor([vocab.index(c) for c in text]),
                                       len(vocab)).float()


@torch.no_grad()
def run(name: str, text: str):
    """nn.GRU's output (T, H) and next-character probabilities (T, V)."""
    gru, head, vocab = plain_model(name)
    out, _ = gru(one_hot(text, vocab))
    return out, torch.softmax(head(out), -1), vocab


@torch.no_grad()
def gates(name: str, text: str) -> dict[str, torch.Tensor]:
    """Layer 0's r, z, n, h_prev (T, H), by the equations, from nn.GRU's h."""
    gru, _, vocab = plain_model(name)
    x = one_hot(text, vocab)
    out, _ = gru(x)
    h_prev = torch.cat([torch.zeros(1, out.shape[1]), out[:-1]])
    W_ir, W_iz, W_in = gru.weight_ih_l0.chunk(3)
    W_hr, W_hz, W_hn = gru.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = gru.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = gru.bias_hh_l0.chunk(3)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn))
    n_no_reset = torch.tanh(x @ W_in.T + b_in + h_prev @ W_hn.T + b_hn)
    return {"r": r, "z": z, "n": n, "h_prev": h_prev, "h": out, "n_no_reset": n_no_reset,
            "b_r": b_ir + b_hr}
