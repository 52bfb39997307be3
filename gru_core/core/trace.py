"""recompute(): nn.GRU's own output, plus every intermediate term of every step.

nn.GRU is fused and exposes neither r, z nor n. A per-step Python loop recovers them but is about
twice as slow. Instead:

1. Run nn.GRU itself, one layer at a time (bitwise the stacked module: each layer reads the same
   tensors the stacked one would), so `output` and `h_n` *are* PyTorch's.
2. The gates at step t depend only on x_t and h_{t-1}, both now known for all t, so every step's
   gates are computed at once, batched over time, with no Python loop over steps.

Bit for bit. On the CPU, nn.GRU computes W_ih x for all steps in one product, then per step
W_hh h_prev + b_hh as a (1, H) x (H, 3H) product and the gates with element-wise kernels
(ATen's GRUCell). Step 2 repeats those operations on the same operands, so r, z, n are the
values nn.GRU computed internally, not approximations of them:
- the input terms come from the same product on the same tensor (or, for one-hot x, from an
  exact column look-up: the product has a single nonzero term);
- the hidden product is `baddbmm` over time with the weight broadcast, which does per step the
  product nn.GRU does, provided every h_prev row is 64-byte aligned like nn.GRU's fresh h (MKL
  rounds differently otherwise), hence the padded rows of h_buf;
- element-wise kernels vectorise a row of H values and finish its tail with scalar code; they
  see one row at a time here too (every view has a row stride other than H, so rows are never
  merged, and gate work runs on one thread per chunk, so a row is never split).

At the caller's thread count. MKL's results can depend on the thread count (and, for the input
product, on T). nn.GRU therefore runs with the caller's own setting, except when a probe shows
that one thread gives the step the same bits: then each direction's nn.GRU runs on a core of its
own (the two directions at once), block by block with h carried, while the gates of the blocks
it has produced, and those of the layer below, are computed on another (or, where the
recurrences take every core, queued between their blocks: _gates_on). For one-hot input that
is bitwise one nn.GRU run (the input terms are exact look-ups); for dense input (an embedding,
a layer above the first) each block's input product is compared with the caller's, and the
layer runs at the caller's setting if one differs. Each block is queued by the one before it,
so another trace's blocks take turns. With one direction and several layers, the layers run
side by side likewise (_stacked): layer l+1's block k as soon as layer l's block k has ended,
on the other core; its input product at the caller's setting, which needs all of layer l, is
computed once layer l has ended, and its blocks' gates and checks wait for it; if one differs,
the layers below it are kept. (1 layer, one-hot: 1.03x nn.GRU on a quiet machine, against
about 1.35x with the gates computed after it; 2 layers, side by side: 1.18x -> 0.96x in one
run; bench/trace_vs_gru.py for the rest.)
If a step's bits do depend on the thread count, the hidden products are recomputed one step at
a time at the caller's setting, as nn.GRU did them (1.8x).
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .batch import Batch, run_batch
from .model import GRUConfig
from .weights import LayerWeights, config_of, layer_weights, single_layer, state_dict_of, suffix

GATES = ("r", "z", "n", "h", "h_prev", "ir", "hr", "iz", "hz", "in", "hn")
CHUNK = 256  # steps per block: the temporaries stay in cache, and little is left after nn.GRU
ALIGN = 64  # bytes: nn.GRU's h is a fresh allocation, aligned like this
PROBE = 8  # steps run on one thread and on the caller's to compare their bits

Steps = slice | int | torch.Tensor | None


@dataclass
class Trace:
    """Every term of an nn.GRU run, and the weights that made it: one unbatched sequence of
    length T, or (with `batch`) a batch, batch_first or packed call, read per sequence."""

    config: GRUConfig
    output: torch.Tensor  # (T, D*H), nn.GRU's output
    h_n: torch.Tensor  # (L*D, H), nn.GRU's final state
    layer_inputs: list[torch.Tensor]  # per layer, (T, input of that layer)
    state_dict: dict[str, torch.Tensor] = field(repr=False)  # nn.GRU's own keys
    parts: dict[tuple[int, int], _Terms] = field(repr=False)
    convention: str = field(default="pytorch", kw_only=True)  # convention.CONVENTIONS: whose
    # step these numbers are (nn.GRU's, or a Keras GRU's replayed in Keras's order)
    batch: Batch | None = field(default=None, kw_only=True)  # None: one unbatched sequence
    notes: tuple[str, ...] = field(default=(), kw_only=True)  # what the caller should know

    @property
    def T(self) -> int:
        """Steps: the longest sequence's, for a batch."""
        return self.output.shape[0] if self.batch is None else len(self.batch.sizes)

    @property
    def layer_directions(self) -> list[tuple[int, int]]:
        return sorted(self.parts)

    def gate(self, name: str, layer: int = 0, direction: int = 0, steps: Steps = None,
             batch: int | None = None) -> torch.Tensor:
        """(T, H) values of one term, or only the rows in `steps`; index t is the input
        position, in both directions. For a batched trace, (T_b, H) of sequence `batch`."""
        if name not in GATES:
            raise KeyError(f"unknown term {name!r}; choose from {', '.join(GATES)}")
        if (layer, direction) not in self.parts:
            raise KeyError(f"no layer {layer}, direction {direction} in this GRU")
        part, steps = self.parts[(layer, direction)], slice(None) if steps is None else steps
        if self.batch is None:
            if batch not in (None, 0):
                raise IndexError(f"batch={batch}, but this trace holds one unbatched sequence")
            return part.term(name, steps)
        if batch is None:
            raise ValueError(f"this trace holds {self.batch.B} sequences: pass batch=b, "
                             f"0 <= b < {self.batch.B}")
        return part.term(name, self.batch.rows(batch)[steps])

    def weights(self, layer: int = 0, direction: int = 0) -> LayerWeights:
        """W_ir .. b_hn of one layer and direction."""
        return layer_weights(self.state_dict, layer, direction)

    def nbytes(self) -> int:
        """Memory held by the trace's tensors (shared storages counted once; not the weights)."""
        output = self.output.data if self.batch is not None else self.output  # PackedSequence
        tensors = [output, self.h_n, *self.layer_inputs]
        tensors += [t for part in self.parts.values() for t in part.tensors()]
        return sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                    for t in tensors}.values())


@torch.no_grad()
def recompute(gru: nn.GRU | dict, x: torch.Tensor | PackedSequence,
              h0: torch.Tensor | None = None) -> Trace:
    """What nn.GRU takes -> Trace with nn.GRU's output and h_n and every gate.

    x: (T, input_size); (T, B, input_size), or (B, T, input_size) for a batch_first module; or a
    PackedSequence. h0: (L*D, H) unbatched, (L*D, B, H) batched, or None for zeros."""
    replay = getattr(gru, "replay", None)  # a module that computes its own cell (a Keras GRU,
    if callable(replay):  # keras_model.KerasGRU) gives its trace in its framework's order
        return replay(x, h0)
    config, sd = config_of(gru), state_dict_of(gru)
    L, D, H = config.num_layers, config.num_directions, config.hidden_size
    dtype = sd["weight_ih_l0"].dtype
    notes = _check(gru, x, h0, config, dtype)
    if isinstance(x, PackedSequence) or x.dim() == 3:
        batch_first = bool(getattr(gru, "batch_first", False))
        output, h_n, inputs, parts, batch = run_batch(sd, config, x, h0, batch_first, dtype)
        return Trace(config, output, h_n, inputs, sd, parts, batch=batch, notes=notes)
    if h0 is not None and h0.dim() == 3 and h0.shape[1] == 1:  # (L*D, 1, H): nn.GRU's B = 1
        h0 = h0[:, 0]
    if h0 is not None and h0.shape != (L * D, H):
        raise ValueError(f"h0 must be (num_layers*directions, hidden) = ({L * D}, {H}) for one "
                         f"unbatched sequence, got {tuple(h0.shape)}")
    h0 = x.new_zeros(L * D, H) if h0 is None else h0
    threads, (recurrence, pool) = torch.get_num_threads(), _pools()

    inputs, parts, finals, pending = [], {}, [], []
    layer_in, first, differs = x, 0, False  # first: the first layer the loop below runs
    one_core = [threads == 1 or _same_bits_on_one_core(single_layer(sd, k), threads, recurrence)
                for k in range(L)]
    if D == 1 and L > 1 and all(one_core):
        own, finals, layer_in = _stacked(sd, x, h0, recurrence, pool, pending)
        inputs, first = [part.x for part in own], len(own)
        parts = {(layer, 0): part for layer, part in enumerate(own)}
        differs = first < L  # that layer's blocks would differ again: the caller's setting
    for layer in range(first, L):
        inputs.append(layer_in)
        run, h0_l = single_layer(sd, layer), h0[layer * D : (layer + 1) * D]
        own = [_Terms(sd, layer, d, layer_in, h0_l[d : d + 1]) for d in range(D)]
        beside = one_core[layer] and not (differs and layer == first)
        h_n = _beside(sd, layer, own, recurrence, pool, pending) if beside else None
        if h_n is None:  # nn.GRU at the caller's setting, the gates after it
            h_n = _at_callers_setting(run, own, layer_in, h0_l, one_core[layer], pool, pending)
        out = own[0].h if D == 1 else torch.cat([part.h for part in own], 1)
        parts.update({(layer, d): part for d, part in enumerate(own)})
        finals.append(h_n)
        layer_in = out if layer == L - 1 else out.contiguous()  # the next layer reads dense rows
    _wait(pending)
    return Trace(config, layer_in, torch.cat(finals), inputs, sd, parts, notes=notes)


FLOATS = (torch.float32, torch.float64)


def _check(gru: nn.GRU | dict, x, h0, config: GRUConfig, dtype: torch.dtype) -> tuple[str, ...]:
    """A clear message for what recompute cannot take; the notes for what it takes as in eval."""
    if dtype not in FLOATS:
        raise ValueError(f"recompute() reproduces float32 and float64 GRUs; this one is "
                         f"{str(dtype).removeprefix('torch.')} (convert it: gru.float())")
    data = x.data if isinstance(x, PackedSequence) else x
    if not isinstance(data, torch.Tensor) or data.dtype not in FLOATS:
        kind = type(data).__name__ if not isinstance(data, torch.Tensor) else data.dtype
        raise ValueError(f"x must be a float32 or float64 tensor (token ids go through an "
                         f"embedding or one-hot first), got {kind}")
    if h0 is not None and (not isinstance(h0, torch.Tensor) or h0.dtype not in FLOATS):
        raise ValueError("h0 must be a float32 or float64 tensor")
    for name, given in (("x", data.dtype), ("h0", None if h0 is None else h0.dtype)):
        if given is not None and given != dtype:  # nn.GRU refuses it too: no silent cast
            raise ValueError(f"{name} is {str(given)[6:]} but the GRU is {str(dtype)[6:]}, as "
                             f"nn.GRU refuses it: convert {name}.to(torch.{str(dtype)[6:]}) "
                             f"or the GRU .to(torch.{str(given)[6:]})")
    width, first = config.input_size, bool(getattr(gru, "batch_first", False))
    if isinstance(x, PackedSequence):
        if data.dim() != 2 or data.shape[1] != width:
            raise ValueError(f"the PackedSequence's data must be (steps, {width}), "
                             f"got {tuple(data.shape)}")
    elif x.dim() not in (2, 3) or x.shape[-1] != width or 0 in x.shape:
        layout = "(B, T, I)" if first else "(T, B, I)"
        sized = layout.replace("I", str(width))
        raise ValueError(f"x must be (T, {width}) for one sequence or {layout} = "
                         f"{sized} for a batch (as nn.GRU takes it), "
                         f"got {tuple(x.shape)}")
    notes = []
    if isinstance(gru, nn.Module) and gru.training:
        dropout = getattr(gru, "dropout", 0.0)
        note = ("the GRU is in train() mode: it is traced as in eval()"
                + (f", without the dropout of {dropout} between layers, so a train() call "
                   "would differ" if dropout and config.num_layers > 1 else
                   " (the same numbers: it has no dropout between layers)"))
        if dropout and config.num_layers > 1:
            warnings.warn(note, stacklevel=3)
        notes.append(note)
    return tuple(notes)


def _chunks(T: int) -> list[slice]:
    return [slice(lo, min(T, lo + CHUNK)) for lo in range(0, T, CHUNK)]


def _wait(pending: list[Future]) -> None:
    for job in pending:
        job.result()
    pending.clear()


def _drop(jobs: list[Future]) -> None:
    """Jobs whose work is thrown away: those not started never start, the rest end first."""
    for job in jobs:
        job.cancel()
    futures.wait(jobs)


def _beside(sd: dict, layer: int, own: list[_Terms], recurrence: ThreadPoolExecutor,
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
    _wait(checks)
    if wrong.is_set():
        _drop(jobs)
        return None
    pending += jobs
    return torch.cat(h_n)


def _stacked(sd: dict, x: torch.Tensor, h0: torch.Tensor, recurrence: ThreadPoolExecutor,
             pool: ThreadPoolExecutor, pending: list[Future]
             ) -> tuple[list[_Terms], list[torch.Tensor], torch.Tensor]:
    """One direction, its layers side by side: layer l+1's block k runs on the other
    recurrence worker as soon as layer l's block k and its own block k-1 have ended (nn.GRU
    runs the layers one after the other), each block's gates on `pool`. A layer's input product
    at the caller's setting, what nn.GRU computes, needs the whole layer below: its blocks'
    gates and checks wait for it. (Layer 0's is computed first, as before: computed beside its
    first blocks, it raised the peak memory of tests/server/test_memory.py by 8-15 MiB.)
    Returns the layers below the first whose blocks' input product was not the caller's (all
    of them if none), their (1, H) h_n each, and the output of the last of them, the next
    layer's input. The jobs of the layers dropped have stopped."""
    L, T, H = len(h0), len(x), h0.shape[1]
    chunks, runs = _chunks(T), [_direction(sd, layer, 0) for layer in range(L)]
    own = [_Terms(sd, 0, 0, x, h0[:1])]  # its input terms at once, as nn.GRU's first layer
    for layer in range(1, L):  # read as dense (a one-hot row's product is its column anyway),
        # the layer below's h where its rows are dense, else a copy
        below = own[-1].h
        x_l = below if below.is_contiguous() else x.new_empty(T, H)  # filled block by block
        own.append(_Terms(sd, layer, 0, x_l, h0[layer : layer + 1], later=True))
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
    _wait(checks)
    ok = next((layer for layer in range(L) if wrong[layer].is_set()), L)
    _drop([job for layer in jobs[ok:] for job in layer])
    pending += [job for layer in jobs[:ok] for job in layer]
    return own[:ok], h_n[:ok], inputs[ok] if ok < L else own[-1].h


def _gates_on(recurrence: ThreadPoolExecutor, pool: ThreadPoolExecutor,
              running: int) -> ThreadPoolExecutor:
    """Where the gates of a block go: to the gate pool while a core is left beside the
    `running` recurrences, else into the recurrences' own queue, between their blocks. With
    every core taken, gate threads could only take time slices from the recurrences, which set
    the pace (2 cores, against nn.GRU: bidirectional 1.02x -> 0.95x, 2 layers bidirectional
    1.21x -> 1.08x; bench/trace_vs_gru.py)."""
    return pool if (os.cpu_count() or 1) > running else recurrence


def _in_blocks(run: nn.GRU, part: _Terms, recurrence: ThreadPoolExecutor,
               pool: ThreadPoolExecutor, checks: list[Future], jobs: list[Future],
               wrong: threading.Event) -> Future:
    """One direction's blocks, each queued by the one before it as it ends (no round trip
    through a waiting thread, and another trace's blocks take turns in the queue), each sending
    its gates (and, for dense input, the check of its input product) to `pool`. A future of
    h_n, or of None once a check has failed."""
    done, chunks = Future(), _chunks(len(part.x))

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


def _block(run: nn.GRU, part: _Terms, steps: slice,
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


def _at_callers_setting(run: nn.GRU, own: list[_Terms], x: torch.Tensor, h0: torch.Tensor,
                        one_core: bool, pool: ThreadPoolExecutor,
                        pending: list[Future]) -> torch.Tensor:
    """nn.GRU on the whole layer at the caller's setting, then the gates: on the pool if one
    core gives the step the same bits, else with the hidden products redone step by step."""
    if torch.get_num_threads() > 1:  # nothing runs beside an nn.GRU that uses several cores
        _wait(pending)
    out, h_n = run(x, h0)
    H = own[0].H
    for d, part in enumerate(own):
        part.h.copy_(out[:, d * H : (d + 1) * H])
        if one_core:
            pending += [pool.submit(part.fill, c) for c in _chunks(len(x))]
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


def _same_bits_on_one_core(run: nn.GRU, threads: int, one_thread: ThreadPoolExecutor) -> bool:
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


def _pools() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
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

            pools = tuple(ThreadPoolExecutor(k, thread_name_prefix=f"gru-{name}",
                                             initializer=init)
                          for k, name in ((2, "recurrence"), (n, "gates")))
            for pool in pools:
                for _ in range(pool._max_workers):
                    pool.submit(int)
            ready.wait()
            torch.set_num_threads(threads)
            _POOLS = pools
    return _POOLS


class _Terms:
    """The buffers of one layer and direction, filled chunk by chunk in nn.GRU's own order."""

    def __init__(self, sd: dict, layer: int, d: int, x: torch.Tensor, h0: torch.Tensor,
                 later: bool = False):
        s, (T, H) = suffix(layer, d), (x.shape[0], h0.shape[1])
        self.x, self.H, self.h0, self.reverse = x, H, h0, d == 1
        self.W = sd["weight_hh" + s].t()  # (H, 3H)
        self.b_hh = sd.get("bias_hh" + s)
        self.W_ih, self.b_ih = sd["weight_ih" + s], sd.get("bias_ih" + s)
        # later: x is still being written (the layer below runs beside): read as dense, its
        # input_product() once it is whole
        self.idx, self.gi = None, None
        if not later and not self.look_up():
            self.input_product()
        # (T+1, H) in rows of ALIGN bytes. Forward [h0, h_0 .. h_T-1]: h_prev = rows[:-1];
        # reverse [h_0 .. h_T-1, h0]: h_prev = rows[1:], since the reverse pass reaches t from t+1
        per_row = ALIGN // x.element_size()
        self.h_buf = x.new_empty(T + 1, -(-H // per_row) * per_row)[:, :H]
        self.h_buf[T if self.reverse else 0] = h0[0]
        rows = (self.h_buf[1:], self.h_buf[:-1])
        self.h, self.h_prev = rows[::-1] if self.reverse else rows
        self.gh = x.new_empty(T, 3 * H)  # [hr | hz | hn]
        self.g = x.new_empty(T, 3 * H)  # [r | z | n]: row stride 3H, so rows are never merged

    def look_up(self) -> bool:
        """For one-hot x, W_ih x_t + b_ih is exactly column idx[t] of W_ih plus b_ih: a table
        (V, 3H) to look the input terms up in. False for dense x (its terms: input_product())."""
        self.idx = _one_hot_index(self.x)
        if self.idx is not None:
            self.table = self.W_ih.t() + (self.b_ih if self.b_ih is not None else 0)
        return self.idx is not None

    def input_product(self) -> None:
        """gi: the product nn.GRU does, on the same tensor, at the same thread count."""
        self.gi = F.linear(self.x.unsqueeze(1), self.W_ih, self.b_ih)[:, 0]  # (T, 3H)

    def fill(self, steps: slice, step_by_step: bool = False) -> None:
        """The gates of `steps`, CHUNK at a time, as nn.GRU's GRUCell computed them."""
        with torch.no_grad():
            for lo in range(steps.start, steps.stop, CHUNK):
                c = slice(lo, min(steps.stop, lo + CHUNK))
                self._hidden_product(c, step_by_step)
                self._gates(c)

    def positions(self, steps: slice) -> slice:
        """The input positions of nn.GRU's steps `steps` (counted from the end in reverse)."""
        T = len(self.x)
        return slice(T - steps.stop, T - steps.start) if self.reverse else steps

    def check(self, x_run: torch.Tensor, at: slice, wrong: threading.Event) -> None:
        """Was nn.GRU's input product of a block (x_run, rows in the order it ran them, on one
        thread) the caller's, gi[at]? MKL's product can depend on the number of rows."""
        with torch.no_grad():
            gi = F.linear(x_run.unsqueeze(1), self.W_ih, self.b_ih)[:, 0]
            if not torch.equal(gi.flip(0) if self.reverse else gi, self.gi[at]):
                wrong.set()

    def _hidden_product(self, c: slice, step_by_step: bool) -> None:
        """gh[c] = W_hh h_prev + b_hh, per step the (1, H) x (H, 3H) product nn.GRU does."""
        H, first = self.H, len(self.x) - 1 if self.reverse else 0
        tiny = 3 * H * H < 400  # baddbmm's own loop below this size: do MKL's per step
        if step_by_step or tiny:
            for t in range(c.start, c.stop):
                self._linear_hh(self.h_prev[t : t + 1], t)
        else:
            n = c.stop - c.start
            a, W = self.h_prev[c].unsqueeze(1), self.W.expand(n, *self.W.shape)
            out = self.gh[c].unsqueeze(1)
            if self.b_hh is None:
                torch.bmm(a, W, out=out)
            else:
                torch.baddbmm(self.b_hh.expand(n, 1, 3 * H), a, W, out=out)
        if c.start <= first < c.stop:  # nn.GRU's first step reads h0 where the caller keeps it
            self._linear_hh(self.h0, first)

    def _linear_hh(self, h: torch.Tensor, t: int) -> None:
        if self.b_hh is None:
            torch.mm(h, self.W, out=self.gh[t : t + 1])
        else:
            torch.addmm(self.b_hh, h, self.W, out=self.gh[t : t + 1])

    def _gates(self, c: slice) -> None:
        """r, z, n of chunk c in GRUCell's order: r = σ(hr + ir), z = σ(hz + iz),
        n = tanh(in + hn·r)."""
        H = self.H
        gi, gh, g = self._input_terms(c), self.gh[c], self.g[c]
        for k in (0, 1):  # r, z
            part = slice(k * H, (k + 1) * H)
            torch.sigmoid(torch.add(gh[:, part], gi[:, part], out=g[:, part]), out=g[:, part])
        n = g[:, 2 * H :]
        torch.tanh(torch.add(gi[:, 2 * H :], gh[:, 2 * H :] * g[:, :H], out=n), out=n)

    def _input_terms(self, steps: Steps) -> torch.Tensor:
        """[ir | iz | in] of `steps`: looked up for one-hot input, stored otherwise."""
        return self.gi[steps] if self.idx is None else self.table[self.idx[steps]]

    def term(self, name: str, steps: Steps) -> torch.Tensor:
        if name in ("h", "h_prev"):
            return getattr(self, name)[steps]
        for names, rows in ((("r", "z", "n"), self.g), (("hr", "hz", "hn"), self.gh),
                            (("ir", "iz", "in"), None)):
            if name in names:
                rows = self._input_terms(steps) if rows is None else rows[steps]
                k = names.index(name)
                return rows[..., k * self.H : (k + 1) * self.H]
        raise KeyError(name)

    def tensors(self) -> list[torch.Tensor]:
        held = [self.h_buf, self.gh, self.g]
        return held + ([self.gi] if self.idx is None else [self.table, self.idx])


def _one_hot_index(x: torch.Tensor) -> torch.Tensor | None:
    """(T,) positions of the ones if every row of x is one-hot, else None."""
    # an embedding's rows, a layer's output: the first row tells, not a pass over all of x
    return x.argmax(1) if _all_one_hot(x[:1]) and _all_one_hot(x) else None


def _all_one_hot(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all() and (x.sum(1) == 1).all())
