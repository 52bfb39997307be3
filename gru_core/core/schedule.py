"""How recompute() gets its speed: thread pools, blocks, probes, schedules. No arithmetic of the
GRU is here (that is trace.py's _Terms, in the order of the equations); this module decides on
which thread and in which order nn.GRU and the terms of each block run, and checks that the
bits stay the caller's.

Why threads at all: nn.GRU's recurrence is a chain of small products, one step after another,
and leaves a core idle. Each direction's nn.GRU runs on a core of its own, block by block with
h carried, while the terms of the blocks it has produced are computed on another core.

Why probes: MKL's results can depend on the thread count (and, for the input product, on the
number of rows). A layer runs on one thread only when a probe shows that one thread gives the
step the caller's bits; for dense input each block's input product is compared with the
caller's, and the layer runs at the caller's setting if one differs. Each block is queued by the
one before it, so another trace's blocks take turns.
"""

from __future__ import annotations

import os
import threading
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch import nn

from .weights import suffix

CHUNK = 256  # steps per block: the temporaries stay in cache, and little is left after nn.GRU
PROBE = 8  # steps run on one thread and on the caller's to compare their bits


def block_slices(T: int) -> list[slice]:
    """The steps of each block: CHUNK at a time."""
    return [slice(lo, min(T, lo + CHUNK)) for lo in range(0, T, CHUNK)]


def wait(pending: list[Future]) -> None:
    for job in pending:
        job.result()
    pending.clear()


def _drop(jobs: list[Future]) -> None:
    """Jobs whose work is thrown away: those not started never start, the rest end first."""
    for job in jobs:
        job.cancel()
    futures.wait(jobs)


def beside(sd: dict, layer: int, own: list, recurrence: ThreadPoolExecutor,
            pool: ThreadPoolExecutor, pending: list[Future]) -> torch.Tensor | None:
    """Each direction's nn.GRU on a core of its own, block by block, and the gates of each block
    computed on another while nn.GRU reads the next (the layer below's may still be in
    progress). (D, H) h_n, or None, with nothing left running, if nn.GRU's input product of a
    block was not the caller's (dense input): then the caller's setting must run the layer.
    This thread only waits: work here would wake the caller's OpenMP threads, which then spin."""
    wrong, checks, jobs = threading.Event(), [], []
    gates = _gates_on(recurrence, pool, len(own))
    runs = [_in_blocks(_direction(sd, layer, d), part, recurrence, gates, checks, jobs, wrong)
            for d, part in enumerate(own)]
    h_n = [run.result() for run in runs]
    wait(checks)
    if wrong.is_set():
        _drop(jobs)
        return None
    pending += jobs
    return torch.cat(h_n)


def stacked(sd: dict, own: list, recurrence: ThreadPoolExecutor, pool: ThreadPoolExecutor,
            pending: list[Future]) -> tuple[list, list[torch.Tensor], torch.Tensor]:
    """One direction, its layers side by side: layer l+1's block k runs on the other
    recurrence worker as soon as layer l's block k and its own block k-1 have ended (nn.GRU
    runs the layers one after the other), each block's gates on `pool`. A layer's input product
    at the caller's setting, what nn.GRU computes, needs the whole layer below: its blocks'
    gates and checks wait for it. `own`: each layer's terms, layer 0's input product already
    computed (computed beside the first blocks, its temporaries would raise the peak memory).
    Returns the layers below the first whose blocks' input product was not the caller's (all
    of them if none), their (1, H) h_n each, and the output of the last of them, the next
    layer's input. The jobs of the layers dropped have stopped."""
    L, T = len(own), len(own[0].x)
    chunks, runs = block_slices(T), [_direction(sd, layer, 0) for layer in range(L)]
    inputs = [part.x for part in own]
    lock, checks = threading.Lock(), []
    gate_pool = _gates_on(recurrence, pool, min(L, recurrence._max_workers))
    wrong, jobs = [threading.Event() for _ in range(L)], [[] for _ in range(L)]
    waits = [[(layer > 0) + (k > 0) for k in range(len(chunks))] for layer in range(L)]
    carry: list[list] = [[part.h0] + [None] * (len(chunks) - 1) for part in own]
    held: list[list] = [[] for _ in range(L)]  # blocks that ended before their input product
    known, ended = [True] + [False] * (L - 1), [Future() for _ in range(L)]

    def gates(layer: int, x_run: torch.Tensor, c: slice) -> None:
        if own[layer].idx is None:
            checks.append(gate_pool.submit(own[layer].check, x_run, c, wrong[layer]))
        jobs[layer].append(gate_pool.submit(own[layer].fill, c))

    def arrive(layer: int, k: int) -> None:  # one of block k's two inputs is there
        with lock:
            waits[layer][k] -= 1
            go = waits[layer][k] == 0
        if go:
            recurrence.submit(block, layer, k)

    def block(layer: int, k: int) -> None:
        try:
            c = chunks[k]
            h, x_run = _block(runs[layer], own[layer], c, carry[layer][k])
            if layer + 1 < L and inputs[layer + 1] is not own[layer].h:
                inputs[layer + 1][c] = own[layer].h[c]
            with lock:
                if known[layer]:
                    gates(layer, x_run, c)
                else:
                    held[layer].append((x_run, c))
            if k + 1 < len(chunks):
                carry[layer][k + 1] = h
                arrive(layer, k + 1)
            else:
                ended[layer].set_result(h)
            if layer + 1 < L:
                arrive(layer + 1, k)
        except BaseException as error:  # the caller waits on `ended`: it must hear of it,
            for later in ended[layer:]:  # and the layers above can no longer end either
                if not later.done():
                    later.set_exception(error)

    def learn(layer: int) -> None:  # its input is whole: the product, as nn.GRU's, then gates
        own[layer].input_product()
        with lock:
            known[layer] = True
            for x_run, c in held[layer]:
                gates(layer, x_run, c)

    recurrence.submit(block, 0, 0)  # the one block that waits for nothing
    h_n = []
    for layer in range(L):
        h_n.append(ended[layer].result())
        if layer + 1 < L:
            learn(layer + 1)
    wait(checks)
    ok = next((layer for layer in range(L) if wrong[layer].is_set()), L)
    _drop([job for layer in jobs[ok:] for job in layer])
    pending += [job for layer in jobs[:ok] for job in layer]
    return own[:ok], h_n[:ok], inputs[ok] if ok < L else own[-1].h


def _gates_on(recurrence: ThreadPoolExecutor, pool: ThreadPoolExecutor,
              running: int) -> ThreadPoolExecutor:
    """Where the terms of a block go: to the gate pool while a core is left beside the
    `running` recurrences, else into the recurrences' own queue, between their blocks. With
    every core taken, gate threads could only take time slices from the recurrences, which set
    the pace."""
    return pool if (os.cpu_count() or 1) > running else recurrence


def _in_blocks(run: nn.GRU, part, recurrence: ThreadPoolExecutor,
               pool: ThreadPoolExecutor, checks: list[Future], jobs: list[Future],
               wrong: threading.Event) -> Future:
    """One direction's blocks, each queued by the one before it as it ends (no round trip
    through a waiting thread, and another trace's blocks take turns in the queue), each sending
    its gates (and, for dense input, the check of its input product) to `pool`. A future of
    h_n, or of None once a check has failed."""
    done, chunks = Future(), block_slices(len(part.x))

    def block(k: int, h: torch.Tensor) -> None:
        try:
            if wrong.is_set():
                return done.set_result(None)
            h, x = _block(run, part, chunks[k], h)
            at = part.positions(chunks[k])
            if part.idx is None:
                checks.append(pool.submit(part.check, x, at, wrong))
            jobs.append(pool.submit(part.fill, at))
            if k + 1 < len(chunks):
                recurrence.submit(block, k + 1, h)
            else:
                done.set_result(h)
        except BaseException as error:  # the caller waits on `done`: it must hear of it
            done.set_exception(error)

    recurrence.submit(block, 0, part.h0)
    return done


def _block(run: nn.GRU, part, steps: slice,
           h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """On a one-thread worker: nn.GRU over the `steps`-th steps it takes (the reverse direction
    over the flipped block), from h. For one-hot input, blocks with h carried are bitwise one
    nn.GRU run (the input terms are exact column look-ups, the recurrence is the same); for
    dense input each block's input product is checked. Returns the block's h_n and input."""
    with torch.no_grad():
        at = part.positions(steps)
        x = part.x[at].flip(0) if part.reverse else part.x[at]  # in the order nn.GRU reads it
        out, h = run(x, h)
        part.h[at] = out.flip(0) if part.reverse else out
        return h, x


def at_callers_setting(run: nn.GRU, own: list, x: torch.Tensor, h0: torch.Tensor,
                        one_core: bool, pool: ThreadPoolExecutor,
                        pending: list[Future]) -> torch.Tensor:
    """nn.GRU on the whole layer at the caller's setting, then the gates: on the pool if one
    core gives the step the same bits, else with the hidden products redone step by step."""
    if torch.get_num_threads() > 1:  # nothing runs beside an nn.GRU that uses several cores
        wait(pending)
    out, h_n = run(x, h0)
    H = own[0].H
    for d, part in enumerate(own):
        part.h.copy_(out[:, d * H : (d + 1) * H])
        if one_core:
            pending += [pool.submit(part.fill, c) for c in block_slices(len(x))]
        else:  # the step's bits depend on the thread count: nn.GRU's own way
            part.fill(slice(0, len(x)), step_by_step=True)
    return h_n


def _direction(sd: dict, layer: int, d: int) -> nn.GRU:
    """One direction of one layer as a 1-layer, one-direction nn.GRU (the same tensors)."""
    s = suffix(layer, d)
    own = {name + "_l0": sd[name + s] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
           if name + s in sd}
    W_ih = own["weight_ih_l0"]
    module = nn.GRU(W_ih.shape[1], W_ih.shape[0] // 3, bias="bias_ih_l0" in own, device="meta",
                    dtype=W_ih.dtype)
    module.load_state_dict(own, assign=True)
    return module


def same_bits_on_one_core(run: nn.GRU, threads: int, one_thread: ThreadPoolExecutor) -> bool:
    """Does nn.GRU's step give the same bits on one thread as on `threads`? The step's shapes
    do not depend on T, so a few steps tell; one-hot input keeps the input product exact."""
    gen = torch.Generator().manual_seed(0)
    dtype = run.weight_hh_l0.dtype
    idx = torch.randint(run.input_size, (PROBE,), generator=gen)
    x = F.one_hot(idx, run.input_size).to(dtype)
    h0 = torch.randn(2 if run.bidirectional else 1, run.hidden_size, generator=gen, dtype=dtype)
    here = _no_grad(run)(x, h0)
    there = one_thread.submit(_no_grad(run), x, h0).result()
    return all(torch.equal(a, b) for a, b in zip(here, there, strict=True))


def _no_grad(fn):
    """Grad mode is per thread: work sent to the pool must switch it off itself."""
    def call(*args):
        with torch.no_grad():
            return fn(*args)
    return call


_POOLS: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None
_POOLS_LOCK = threading.Lock()


def pools() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """(recurrence, gates): worker threads that run torch on one thread each, nn.GRU on threads
    of its own, one per direction (each stays on one core, with W_hh in that core's cache), and
    the gate arithmetic on the others. torch.set_num_threads is per thread, but a new thread
    takes the last value any thread set, so the workers are made once, all at once, and the
    value is put back before any other thread can start."""
    global _POOLS
    with _POOLS_LOCK:
        if _POOLS is None:
            n, threads = max(2, os.cpu_count() or 2), torch.get_num_threads()
            ready = threading.Barrier(n + 3)

            def init() -> None:
                torch.set_num_threads(1)
                torch.get_num_threads()  # torch reads its setting for this thread now
                ready.wait()

            made = tuple(ThreadPoolExecutor(k, thread_name_prefix=f"gru-{name}",
                                            initializer=init)
                         for k, name in ((2, "recurrence"), (n, "gates")))
            for pool in made:
                for _ in range(pool._max_workers):
                    pool.submit(int)
            ready.wait()
            torch.set_num_threads(threads)
            _POOLS = made
    return _POOLS
