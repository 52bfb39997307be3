"""What the host allows, and how the sessions share it: the memory the traces may hold together,
the longest text, and the order traces run in.

Memory: a trace is accounted at what it keeps alive (its tensors, and an upload's parameters,
which the trace's model holds), and room is made for its peak while it is computed (the head's
logits are held beside the probabilities until the softmax returns) plus every trace still
being computed.

Fairness: traces run in two lanes, one at a time in each: texts up to LONG_STEPS tokens in the
short lane, longer ones in the long lane, the shortest waiting first in each. A short text
never waits behind a long one, and a session has at most PER_SESSION traces in flight."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import threading
from collections import Counter
from collections.abc import Iterator

import streamlit as st

from gru_core import Checkpoint, TextTrace, estimate_nbytes

DEFAULT_CACHE_MB = 2560  # + ~650 MiB for Python, torch and Streamlit: 3.2 GiB on a 4 GiB host;
# a 100,000-character text on shakespeare-2layer peaks at 2.1 GiB while it is computed
DEFAULT_MAX_TEXT = 100_000  # characters
LONG_STEPS = 5_000  # tokens: ~0.5 s on the 2-layer model; longer texts go to the long lane
PER_SESSION = 1


def setting(env: str, secret: str, default: float) -> float:
    """A host setting: the environment variable, else the key in .streamlit/secrets.toml."""
    raw = os.environ.get(env)
    if raw is None:
        try:
            raw = st.secrets.get(secret)
        except FileNotFoundError:  # no secrets file: fine
            raw = None
    return float(raw if raw is not None else default)


def budget_bytes() -> int:
    """The memory the traces may hold together: GRU_STEPPER_CACHE_MB, or cache_mb in
    .streamlit/secrets.toml; the default leaves room for the server itself on a 4 GiB host."""
    return int(setting("GRU_STEPPER_CACHE_MB", "cache_mb", DEFAULT_CACHE_MB) * 2**20)


def max_text() -> int:
    """The longest text accepted, in characters: GRU_STEPPER_MAX_TEXT, or max_text in
    .streamlit/secrets.toml."""
    return max(1, int(setting("GRU_STEPPER_MAX_TEXT", "max_text", DEFAULT_MAX_TEXT)))


def params_nbytes(ck: Checkpoint) -> int:
    return sum(t.nbytes for t in [*ck.module.parameters(), *ck.module.buffers()])


def peak_nbytes(ck: Checkpoint, T: int) -> int:
    """What computing the trace of T tokens holds at its peak: the trace, and beside it the
    head's logits (T, V) until the softmax returns, and, where a layer reads dense input (an
    embedding, a second layer), nn.GRU's own run of that layer over the whole text: its output
    and the input projections it computes for every step at once, (T, 3H). (A one-hot first
    layer runs in blocks.) An upper bound: measured, a 1024-unit GRU with an embedding over
    2,000 tokens peaks 1.31x its trace; this bound says 1.39x."""
    cfg, module = ck.config, ck.module
    size = module.recurrent.weight_ih_l0.element_size()
    V = len(ck.vocab) if module.head is not None else 0
    dense = module.embed is not None or cfg.num_layers > 1
    run = 4 * cfg.num_directions * cfg.hidden_size if dense else 0
    return estimate_nbytes(ck, T) + size * T * max(run, V)


def held_by(tt: TextTrace, resident: bool) -> int:
    """A cached trace's accounted size: its tensors, and its model's parameters when nothing
    else keeps the model (an upload)."""
    return tt.nbytes() + (0 if resident else params_nbytes(tt.model))


class TooLarge(ValueError):
    """A text whose trace alone would not fit in the memory budget."""


def too_large(ck: Checkpoint, T: int, need: int, room: int) -> TooLarge:
    fit = int(T * room / need)
    return TooLarge(f"this text is too long for this server: computing its trace would hold "
                    f"{need / 2**20:,.0f} MiB, more than the {room / 2**20:,.0f} MiB the host "
                    f"allows for traces (GRU_STEPPER_CACHE_MB). About {fit:,} {ck.vocab.kind} "
                    "fit")


class Busy(RuntimeError):
    """A session that already has PER_SESSION traces in flight."""


class Lanes:
    """Two lanes of one trace at a time; in each, the smallest waiting trace goes first."""

    def __init__(self, long_steps: int = LONG_STEPS, per_session: int = PER_SESSION):
        self.long_steps, self.per_session = long_steps, per_session
        self._cond = threading.Condition()
        self._waiting: dict[bool, list[tuple[int, int]]] = {False: [], True: []}
        self._running = {False: False, True: False}
        self._in_flight: Counter[str] = Counter()
        self._order = itertools.count()

    def lane(self, steps: int) -> bool:
        return steps > self.long_steps  # True: the long lane

    def waiting(self, long: bool) -> int:
        with self._cond:
            return len(self._waiting[long])

    @contextlib.contextmanager
    def slot(self, steps: int, session: str) -> Iterator[None]:
        """Wait for this trace's turn in its lane, or raise Busy."""
        long, ticket = self.lane(steps), (steps, next(self._order))
        with self._cond:
            if self._in_flight[session] >= self.per_session:
                raise Busy(f"this page already has {self._in_flight[session]} text(s) being "
                           "run; wait for it to finish")
            self._in_flight[session] += 1
            heapq.heappush(self._waiting[long], ticket)
            try:
                while self._running[long] or self._waiting[long][0] != ticket:
                    self._cond.wait()
            except BaseException:
                self._waiting[long].remove(ticket)
                heapq.heapify(self._waiting[long])
                self._done(session)
                raise
            heapq.heappop(self._waiting[long])
            self._running[long] = True
        try:
            yield
        finally:
            with self._cond:
                self._running[long] = False
                self._done(session)

    def _done(self, session: str) -> None:
        self._in_flight[session] -= 1
        if not self._in_flight[session]:
            del self._in_flight[session]
        self._cond.notify_all()
