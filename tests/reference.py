"""Independent references for the app tests: plain nn.GRU + nn.Linear from a checkpoint file, and
the GRU equations written out once more, without gru_core."""

import torch

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


@torch.no_grad()
def gru_cell_steps(gru: torch.nn.GRU, x: torch.Tensor, layer: int = 0, direction: int = 0,
                   h0: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One layer and direction of nn.GRU on the CPU, operation for operation as ATen's GRUCell
    and FullLayer do it (the input product for all steps, then per step a fresh h), at the
    current thread count. Returns every term, indexed by input position; x is that layer's
    input. Checked against nn.GRU's own h by the tests that use it."""
    s = f"_l{layer}" + ("_reverse" if direction else "")
    W_ih, W_hh = getattr(gru, "weight_ih" + s), getattr(gru, "weight_hh" + s)
    b_ih, b_hh = getattr(gru, "bias_ih" + s, None), getattr(gru, "bias_hh" + s, None)
    gi = torch.nn.functional.linear(x.unsqueeze(1), W_ih, b_ih)  # (T, 1, 3H)
    h = torch.zeros(1, gru.hidden_size, dtype=x.dtype) if h0 is None else h0.reshape(1, -1)
    T = x.shape[0]
    terms = {k: [None] * T for k in ("ir", "iz", "in", "hr", "hz", "hn", "r", "z", "n",
                                     "h_prev", "h")}
    for t in (range(T - 1, -1, -1) if direction else range(T)):
        gh = torch.nn.functional.linear(h, W_hh, b_hh)
        ir, iz, in_ = gi[t].unsafe_chunk(3, 1)
        hr, hz, hn = gh.unsafe_chunk(3, 1)
        for k, v in (("ir", ir), ("iz", iz), ("in", in_), ("hr", hr), ("hz", hz), ("hn", hn),
                     ("h_prev", h)):
            terms[k][t] = v.clone()
        r = hr.add_(ir).sigmoid_()
        z = hz.add_(iz).sigmoid_()
        n = in_.add(hn.mul_(r)).tanh_()
        h = (h - n).mul_(z).add_(n)
        for k, v in (("r", r), ("z", z), ("n", n), ("h", h)):
            terms[k][t] = v.clone()
    return {k: torch.cat(v) for k, v in terms.items()}


@torch.no_grad()
def gru_cell_steps_batch(gru: torch.nn.GRU, x: torch.Tensor, sizes: list[int], layer: int = 0,
                         direction: int = 0, h0: torch.Tensor | None = None
                         ) -> dict[str, torch.Tensor]:
    """The same replay for a batch in packed layout: x (N, I) holds step i's sizes[i] rows
    (sorted longest first), or x is a padded (T, B, I) batch as nn.GRU reads it (a transposed
    view for batch_first: at::linear adds the bias apart then) with sizes [B] * T; h0
    (B, H). Per step, one (sizes[i], H) product and the cell's element-wise kernels on the rows
    of the sequences still running, as ATen's PackedLayer and ReversedPackedLayer do. Returns
    every term as (N, H), rows as in x; its own h, checked against nn.GRU's by the tests."""
    s = f"_l{layer}" + ("_reverse" if direction else "")
    W_ih, W_hh = getattr(gru, "weight_ih" + s), getattr(gru, "weight_hh" + s)
    b_ih, b_hh = getattr(gru, "bias_ih" + s, None), getattr(gru, "bias_hh" + s, None)
    gi = torch.nn.functional.linear(x, W_ih, b_ih).reshape(-1, 3 * gru.hidden_size)  # (N, 3H)
    H, B = gru.hidden_size, sizes[0]
    h0 = torch.zeros(B, H, dtype=x.dtype) if h0 is None else h0
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    terms = {k: [None] * len(sizes) for k in ("ir", "iz", "in", "hr", "hz", "hn", "r", "z",
                                               "n", "h_prev", "h")}
    order = range(len(sizes) - 1, -1, -1) if direction else range(len(sizes))
    h = h0[: sizes[-1]] if direction else h0
    for i in order:
        n = sizes[i]
        if n > h.shape[0]:  # backwards, sequences join from h0
            h = torch.cat([h, h0[h.shape[0] : n]])
        h = h[:n]
        gh = torch.nn.functional.linear(h, W_hh, b_hh)
        ir, iz, in_ = gi[starts[i] : starts[i] + n].unsafe_chunk(3, 1)
        hr, hz, hn = gh.unsafe_chunk(3, 1)
        for k, v in (("ir", ir), ("iz", iz), ("in", in_), ("hr", hr), ("hz", hz), ("hn", hn),
                     ("h_prev", h)):
            terms[k][i] = v.clone()
        r = hr.add_(ir).sigmoid_()
        z = hz.add_(iz).sigmoid_()
        n_ = in_.add(hn.mul_(r)).tanh_()
        h = (h - n_).mul_(z).add_(n_)
        for k, v in (("r", r), ("z", z), ("n", n_), ("h", h)):
            terms[k][i] = v.clone()
    return {k: torch.cat(v) for k, v in terms.items()}
