"""recompute(): nn.GRU's own output, plus every intermediate term of every step.

nn.GRU is fused and exposes neither r, z nor n. A per-step Python loop recovers them but is about
twice as slow and drifts from nn.GRU in the last bits. Instead:

1. Run nn.GRU itself, one layer at a time (bitwise the same as the stacked module): this gives
   every h, so the output *is* PyTorch's.
2. The gates at step t depend only on x_t and h_{t-1}, both now known for all t, so every step's
   gates are computed at once, batched over time, with no loop over steps.

On the CPU, nn.GRU computes W_ih x for all steps in one product and W_hh h_prev one step at a time.
Step 2 does the same: one product for the input terms, and bmm with the weight broadcast over time
for the hidden terms, which reproduces the per-step matrix-vector product bit for bit. So r, z, n
are the values nn.GRU computed internally, not approximations of them (tests check this).

Memory: h and h_prev are two views of one (T+1, H) buffer, and nn.GRU's output is a view of it
too. For one-hot input, W_ir x_t + b_ir is a column of W_ir plus the bias, so the input terms
are a (vocabulary, 3H) table looked up on demand rather than T copies of its rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .model import GRUConfig
from .weights import config_of, single_layer, state_dict_of, suffix

GATES = ("r", "z", "n", "h", "h_prev", "ir", "hr", "iz", "hz", "in", "hn")
CHUNK = 256  # steps per block: the temporaries stay in cache, and little is left after nn.GRU

Steps = slice | int | torch.Tensor | None


@dataclass
class Trace:
    """Every term of an nn.GRU run over one unbatched sequence of length T."""

    config: GRUConfig
    output: torch.Tensor  # (T, D*H), nn.GRU's output
    h_n: torch.Tensor  # (L*D, H), nn.GRU's final state
    layer_inputs: list[torch.Tensor]  # per layer, (T, input of that layer)
    terms: dict[tuple[int, int], dict[str, torch.Tensor | Callable]] = field(repr=False)

    @property
    def T(self) -> int:
        return self.output.shape[0]

    def gate(self, name: str, layer: int = 0, direction: int = 0, steps: Steps = None
             ) -> torch.Tensor:
        """(T, H) values of one term, or only the rows in `steps`; index t is the input
        position, in both directions."""
        if name not in GATES:
            raise KeyError(f"unknown term {name!r}; choose from {', '.join(GATES)}")
        if (layer, direction) not in self.terms:
            raise KeyError(f"no layer {layer}, direction {direction} in this GRU")
        value = self.terms[(layer, direction)][name]
        if callable(value):  # an input term of a one-hot layer: looked up, only the rows asked
            return value(slice(None) if steps is None else steps)
        return value if steps is None else value[steps]


@torch.no_grad()
def recompute(gru: nn.GRU | dict, x: torch.Tensor, h0: torch.Tensor | None = None) -> Trace:
    """x: (T, input_size), h0: (L*D, H) or None -> Trace with nn.GRU's output and every gate."""
    config, sd = config_of(gru), state_dict_of(gru)
    L, D, H = config.num_layers, config.num_directions, config.hidden_size
    dtype = sd["weight_ih_l0"].dtype
    if x.dim() != 2 or x.shape[1] != config.input_size or x.shape[0] == 0:
        raise ValueError(f"x must be (T > 0, {config.input_size}), got {tuple(x.shape)}")
    x = x.to(dtype)
    if h0 is None:
        h0 = x.new_zeros(L * D, H)
    h0 = h0.to(dtype)

    inputs, terms, finals, last = [], {}, [], []
    layer_in = x
    with _one_core_each() as (beside, pending, threads):
        for layer in range(L):
            inputs.append(layer_in)
            h0_l = h0[layer * D : (layer + 1) * D]
            parts = [_Terms(sd, layer, d, layer_in, h0_l[d]) for d in range(D)]
            if D == 1 and parts[0].idx is not None:  # its gates go beside, block by block
                h_n = _run_in_blocks(single_layer(sd, layer), parts[0], h0_l, beside, pending)
                out = parts[0].h
            else:
                out, h_n = single_layer(sd, layer)(layer_in, h0_l)
                for d, part in enumerate(parts):
                    part.h.copy_(out[:, d * H : (d + 1) * H])
                if D == 1:
                    out = parts[0].h  # the same numbers, now a view: nn.GRU's copy is freed
                if layer < L - 1:  # computed beside the next layer's nn.GRU
                    pending += [beside.submit(part.fill, slice(0, len(out))) for part in parts]
                else:  # nothing left to overlap with: computed below, on every core
                    last = parts
            terms.update({(layer, d): part for d, part in enumerate(parts)})
            finals.append(h_n)
            layer_in = out
        torch.set_num_threads(threads)  # nn.GRU is done: this thread may use every core again
        for part in last:
            part.fill(slice(0, len(out)))
    terms = {k: part.as_dict() for k, part in terms.items()}
    return Trace(config, layer_in, torch.cat(finals), inputs, terms)


_THREADS = threading.Lock()


@contextmanager
def _one_core_each():
    """nn.GRU's recurrence runs step after step and gains little from a second thread (one thread
    takes about 1.16x the time of two at H = 256), so it gets one core and the gate arithmetic of
    what it has already produced runs beside it, on a second thread with the other core. torch's
    thread count is process-wide, hence the lock (one recompute at a time changes it) and the
    restore."""
    with _THREADS:
        threads, jobs = torch.get_num_threads(), []
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=1, initializer=torch.set_num_threads,
                                    initargs=(1,)) as beside:
                yield beside, jobs, threads
                for job in jobs:
                    job.result()
        finally:
            torch.set_num_threads(threads)


def _run_in_blocks(run: nn.GRU, part: _Terms, h0: torch.Tensor, beside, pending) -> torch.Tensor:
    """nn.GRU block by block, h carried: for one-hot input this is bitwise one nn.GRU run (the
    input terms are exact column look-ups, the recurrence is the same), and each block's gates
    are computed beside while nn.GRU reads the next block."""
    h = h0
    for lo in range(0, len(part.x), CHUNK):
        block = slice(lo, min(len(part.x), lo + CHUNK))
        out, h = run(part.x[block], h)
        part.h_buf[block.start + 1 : block.stop + 1] = out
        pending.append(beside.submit(part.fill, block))
    return h


class _Terms:
    """The buffers of one layer and direction, filled block by block in nn.GRU's own order."""

    def __init__(self, sd: dict, layer: int, d: int, x: torch.Tensor, h0: torch.Tensor):
        s, (T, H) = suffix(layer, d), (x.shape[0], h0.shape[0])
        self.x, self.H = x, H
        self.W = sd["weight_hh" + s].t()  # (H, 3H)
        self.b_hh = sd.get("bias_hh" + s)
        W_ih, b_ih = sd["weight_ih" + s], sd.get("bias_ih" + s)
        self.idx = _one_hot_index(x)
        if self.idx is not None:  # W_ih x_t + b_ih is exactly column idx[t] of W_ih plus b_ih
            self.table = W_ih.t() + (b_ih if b_ih is not None else 0)  # (V, 3H) per character
            self.gi = None
        else:
            self.gi = F.linear(x.unsqueeze(1), W_ih, b_ih)[:, 0]  # (T, 3H) = [ir | iz | in]
        # (T+1, H), forward [h0, h_0 .. h_T-1]: h_prev = buf[:-1]; reverse [h_0 .. h_T-1, h0]:
        # h_prev = buf[1:], since the reverse pass reaches t from t + 1
        self.h_buf = x.new_empty(T + 1, H)
        self.h_buf[0 if d == 0 else T] = h0
        self.h, self.h_prev = ((self.h_buf[1:], self.h_buf[:-1]) if d == 0
                               else (self.h_buf[:-1], self.h_buf[1:]))
        self.gh = x.new_empty(T, 3 * H)  # [hr | hz | hn]
        self.rz = x.new_empty(T, 2 * H)  # [r | z]
        self.n = x.new_empty(T, H)

    @torch.no_grad()
    def fill(self, steps: slice) -> None:
        for lo in range(steps.start, steps.stop, CHUNK):
            c = slice(lo, min(steps.stop, lo + CHUNK))
            gi = self.table[self.idx[c]] if self.gi is None else self.gi[c]
            _chunk(self.h_prev[c], self.W, self.b_hh, gi, self.gh[c], self.rz[c], self.n[c])

    def as_dict(self) -> dict[str, torch.Tensor | Callable]:
        H, gh, rz = self.H, self.gh, self.rz
        terms = {"r": rz[:, :H], "z": rz[:, H:], "n": self.n, "h": self.h, "h_prev": self.h_prev,
                 "hr": gh[:, :H], "hz": gh[:, H : 2 * H], "hn": gh[:, 2 * H :]}
        for k, name in enumerate(("ir", "iz", "in")):
            part = slice(k * H, (k + 1) * H)
            terms[name] = (self.gi[:, part] if self.gi is not None
                           else _lookup(self.table[:, part], self.idx))
        return terms


def _chunk(h_prev, W, b_hh, gi, gh, rz, n) -> None:
    """One block of steps, in nn.GRU's own order of operations (ATen's GRUCell)."""
    H = h_prev.shape[1]
    # (C, 1, H) @ (C, H, 3H): per step the same matrix-vector product nn.GRU does, bit for bit
    torch.bmm(h_prev.unsqueeze(1), W.expand(len(h_prev), *W.shape), out=gh.unsqueeze(1))
    if b_hh is not None:
        gh += b_hh
    torch.sigmoid(torch.add(gh[:, : 2 * H], gi[:, : 2 * H], out=rz), out=rz)  # r, z
    torch.tanh(torch.add(gi[:, 2 * H :], gh[:, 2 * H :] * rz[:, :H], out=n), out=n)  # n


def _one_hot_index(x: torch.Tensor) -> torch.Tensor | None:
    """(T,) positions of the ones if every row of x is one-hot, else None."""
    if ((x == 0) | (x == 1)).all() and (x.sum(1) == 1).all():
        return x.argmax(1)
    return None


def _lookup(table: torch.Tensor, idx: torch.Tensor) -> Callable[[Steps], torch.Tensor]:
    return lambda steps: table[idx[steps]]
