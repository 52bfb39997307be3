"""Every cache of the app, in one place, with one key scheme: a model is named by its model key
(a shipped or host-given name, or "upload:<sha256>" of the file and its vocabulary) and a trace
by (model key, text). The objects behind a key are passed as underscore arguments, which
Streamlit does not hash. Which models exist is catalogue.py's; how much the traces may hold and
in what order they run is budget.py's."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import cachetools
import numpy as np
import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import budget, catalogue
from dashboard.catalogue import CONTRASTS, model
from gru_core import (
    Checkpoint,
    FeatureCheckpoint,
    FeatureTrace,
    TextTrace,
    jacobian_norms,
    rnn_jacobian_norms,
)
from gru_core import number_units as rank_number_units
from gru_core.analysis.gradients import BLOCK as JACOBIAN_BLOCK
from gru_core.data import agreement

_TRACES = cachetools.LRUCache(maxsize=0)
_TRACES_LOCK = threading.Lock()
_COMPUTING = [0]  # bytes the traces being computed hold at their peak (under _TRACES_LOCK)
_READERS: dict[tuple, set[str]] = {}  # trace key -> the sessions that asked for it
LINGER_BYTES = 32 * 2**20  # a trace larger than this is dropped when no open session reads it
LANES = budget.Lanes()
TooLarge = budget.TooLarge
Busy = budget.Busy


def traces() -> cachetools.LRUCache:
    """The trace cache, made anew when the host's budget changes."""
    global _TRACES
    size = budget.budget_bytes()
    with _TRACES_LOCK:
        if _TRACES.maxsize != size:
            _TRACES = cachetools.LRUCache(maxsize=size, getsizeof=lambda tt: budget.held_by(
                tt, catalogue.is_resident(tt.model)))
        return _TRACES


class Start(NamedTuple):
    """An initial state: `key` names where it came from (another model's key and the text it
    read), h0 is that trace's final state, `source` says it in words."""

    key: tuple[str, str]
    h0: torch.Tensor
    source: str


def trace(model_key: str, ck: Checkpoint, text: str, start: Start | None = None) -> TextTrace:
    """The trace of (model, text), from h0 = start.h0 when given (zeros otherwise), from the
    cache if it is there. Traces are accounted by what they keep alive, least recently used
    evicted first; room is made for a trace's peak, and for the traces being computed in the
    other lane, before it is run (budget.py)."""
    key = (model_key, text) if start is None else (model_key, text, start.key)
    return _cached(key, ck, lambda: len(ck.vocab.split(text)),
                   lambda: ck.trace(text) if start is None
                   else ck.trace(text, start.h0, start.source))


def feature_trace(model_key: str, ck: FeatureCheckpoint, input_key: str,
                  x: Callable[[], np.ndarray], audio: bool = False) -> FeatureTrace:
    """The trace of a feature model over the (T, F) input `x()` names by `input_key` (the
    sample, or a digest of the uploaded file): cached and budgeted as a text's trace is."""
    frames: list[np.ndarray] = []

    def length() -> int:
        frames.append(x())
        return frames[0].shape[0]

    return _cached((model_key, "features:" + input_key), ck, length,
                   lambda: ck.trace(frames[0], audio=audio), "Running the GRU over the input…")


def _cached(key: tuple, ck: Checkpoint, length: Callable[[], int],
            run: Callable[[], TextTrace], doing: str = "Running the GRU over the text…"
            ) -> TextTrace:
    cache = traces()
    session = catalogue.session_id()
    if session:
        catalogue.seen(session)
    with _TRACES_LOCK:
        _READERS.setdefault(key, set()).add(session)
        if key in cache:
            return cache[key]
    T = length()
    need = budget.peak_nbytes(ck, T) + (0 if catalogue.is_resident(ck) else
                                        budget.params_nbytes(ck))
    if need > cache.maxsize:
        raise budget.too_large(ck, T, need, cache.maxsize)
    with st.spinner(doing), LANES.slot(T, catalogue.session_id()):
        with _TRACES_LOCK:
            if key in cache:  # another session ran it meanwhile
                return cache[key]
            room = cache.maxsize - _COMPUTING[0] - catalogue.uploads_nbytes()
            evicted = bool(cache) and cache.currsize + need > room
            while cache and cache.currsize + need > room:
                cache.popitem()
            _COMPUTING[0] += need
        try:
            if evicted:  # a finished rerun can leave a trace in a reference cycle (.streamlit/
                gc.collect()  # config.toml turns the collection after every rerun off)
            tt = run()
        finally:
            with _TRACES_LOCK:
                _COMPUTING[0] -= need
        with _TRACES_LOCK:
            if cache.getsizeof(tt) <= cache.maxsize:
                cache[key] = tt
        give_back_memory()
    return tt


def forget(model_key: str) -> None:
    """Drop every trace of a model (an upload its session released)."""
    with _TRACES_LOCK:
        for key in [k for k in _TRACES if k[0] == model_key]:
            del _TRACES[key]
    gc.collect()
    give_back_memory()


catalogue.on_release.append(forget)


def end_session(session: str) -> None:
    """A session ended: the large traces no open session reads any more are dropped (a class
    that leaves frees its long texts; short traces stay for the next visitor of a link)."""
    held = None
    with _TRACES_LOCK:
        for key in list(_READERS):
            readers = _READERS[key]
            readers.discard(session)
            if readers - {""}:
                continue
            del _READERS[key]
            held = _TRACES.get(key)
            if held is not None and _TRACES.getsizeof(held) > LINGER_BYTES:
                del _TRACES[key]
        del held
    gc.collect()
    give_back_memory()


catalogue.on_session_end.append(end_session)


def later(sel, make: Callable[[TextTrace], str | bytes]) -> Callable[[], str | bytes]:
    """A download's data, built when asked from the selection's trace: st.download_button keeps
    its callable for the session's life, so the callable holds the trace's key, never the
    trace, and reads it again through the budgeted cache when the student clicks."""
    model_key, ck, text, start = sel.model_key, sel.model, sel.text, _start_of(sel)

    def build() -> str | bytes:
        return make(trace(model_key, ck, text, start))

    return build


def _start_of(sel) -> Start | None:
    if sel.start is None:
        return None
    from dashboard.views.stepper import start_from  # the page's own check of h0
    return start_from.state(sel)


def give_back_memory() -> None:
    """Return freed memory to the system. nn.GRU allocates a small tensor per step; freed, they
    stay in the allocator's per-thread arenas, and every Streamlit rerun is a new thread: without
    this, a server that has run a few long texts keeps gigabytes it no longer uses."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@st.cache_resource(max_entries=4, show_spinner="Finding the units that carry number…")
def number_units(model_key: str, _ck: Checkpoint, layer: int = 0):
    """Units ranked on 40 minimal pairs built from the clauses held out in training."""
    seed = _ck.meta.get("hyperparameters", {}).get("seed", 0)
    pairs = agreement.minimal_pairs(seed=seed, n=40, words=_ck.vocab.words)
    return rank_number_units(_ck, pairs, layer=layer)


def gradient_norms(model_key: str, text: str, t: int, layer: int, since: int,
                   _tt: TextTrace, start: tuple[str, str] | None = None) -> list[float]:
    """‖∂h_t/∂h_s‖ for s = since..t (views/gradients.py); computed once, perhaps ahead.
    `start`: the run's initial state (start_from), None for zeros."""
    return _ANALYSES.get(("grad", model_key, text, t, layer, since, start),
                         lambda: jacobian_norms(_tt, t, layer, since=since).tolist(),
                         "Differentiating h_t with respect to every h_s…")


def contrast_for(ck: Checkpoint) -> str | None:
    """The plain RNN trained on the same data as this model (the same vocabulary), if any."""
    for name in CONTRASTS:
        if (catalogue.CHECKPOINT_DIR / f"{name}.pt").is_file() and ck.vocab == model(name).vocab:
            return name
    return None


def rnn_gradient_norms(name: str, text: str, t: int, since: int) -> list[float]:
    """The plain RNN `name`'s curve over the same text (contrast_for names it)."""
    return _ANALYSES.get(("rnn", name, text, t, since),
                         lambda: rnn_jacobian_norms(model(name), text, t, since).tolist(),
                         "The same for the plain RNN…")


def analysis(key: tuple, compute: Callable[[], object],
             spinner: str = "Reading the numbers off the trace…"):
    """A view's numbers under `key` (the view, the model key, the text, the start and what
    else they depend on), computed once: by the view, or ahead of the click (ahead())."""
    return _ANALYSES.get(key, compute, spinner)


class Analyses:
    """Small results a view draws (a curve per (text, t), a question view's numbers: a few
    KB, a table of one row per unit at most), each computed once: by
    the view, or ahead of the click by a background thread (ahead()). Entries are counted,
    not sized: LRU, `size` at most. A view asking for what the thread is computing waits for
    it instead of computing it again."""

    def __init__(self, size: int = 64):
        self._done = cachetools.LRUCache(maxsize=size)
        self._running: dict[tuple, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, compute, spinner: str):
        """The value under `key`, computed (under the spinner, on a page) if nobody has."""
        on_page = get_script_run_ctx(suppress_warning=True) is not None  # else: cache.ahead

        def shown():  # a context manager is entered once: a new one for each wait
            return st.spinner(spinner) if on_page else contextlib.nullcontext()

        while True:
            with self._lock:
                if key in self._done:
                    return self._done[key]
                running = self._running.get(key)
                if running is None:
                    self._running[key] = threading.Event()
                    break
            with shown():
                running.wait()
        try:
            with shown():
                value = compute()
            with self._lock:
                self._done[key] = value
            return value
        finally:
            with self._lock:
                self._running.pop(key).set()


_ANALYSES = Analyses()

# The stepper's parts for the browser, a window of steps at a time (cards and summaries: about
# 150 KB for 60 steps), kept for a reader who reopens a link or steps back into a window.
@cachetools.cached(cachetools.LRUCache(maxsize=16), key=lambda key, compute: key,
                   lock=threading.Lock())
def window_parts(key: tuple, compute: Callable[[], object]):
    """compute() under `key` (the model key, the text, the start, the window and what else the
    parts depend on), once while it stays among the 16 last used."""
    return compute()


class Ahead:
    """One background thread that computes what the next click may ask for, once the reader
    has paused for DELAY seconds: a newer request replaces one not yet started (stepping
    through a text computes nothing until the reader stops). Never on a visitor's path: a
    failure is dropped, and the view computes it itself when asked.

    At exit no job starts any more, and the one running is waited for (atexit runs while the
    thread still lives): a process that ends under a torch computation in a daemon thread
    aborts ("terminate called without an active exception", exit status 134), as a server
    stopped, or a short test run, did while a curve was being computed."""

    DELAY = 0.3

    def __init__(self):
        self._cond = threading.Condition()
        self._next = None  # (when, job)
        self._thread: threading.Thread | None = None
        self._busy = self._stopping = False
        atexit.register(self._drain)

    def submit(self, job) -> None:
        with self._cond:
            self._next = (time.monotonic() + self.DELAY, job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gru-ahead",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (self._next is None
                                              or time.monotonic() < self._next[0]):
                    self._cond.wait(None if self._next is None
                                    else self._next[0] - time.monotonic())
                if self._stopping:
                    return
                job, self._next, self._busy = self._next[1], None, True
            try:
                with contextlib.suppress(Exception):
                    job()
            finally:
                del job  # nothing of it is kept while the thread waits
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _drain(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            while self._busy:
                self._cond.wait()


_AHEAD = Ahead()


AHEAD_BYTES = 32 * 2**20  # the most a curve computed unasked may hold: a block of Jacobians


def ahead(model_key: str, ck: Checkpoint, tt: TextTrace, t: int, layer: int, since: int,
          numbers: tuple[Callable[[TextTrace], object], ...] = ()
          ) -> None:  # tt: only its text is kept; the job takes the trace from the cache
    """After a page is drawn: the other views' numbers (`numbers`, each called with the
    trace: View.numbers through cache.analysis), then the gradient view's curves at this step,
    computed in the background before the reader asks for them (the number units, a Streamlit
    cache, are computed before the first visitor by warm.py instead). The trace is held only
    while they are computed, and only if the cache still holds it. Only for a resident model
    (not an upload); the curves only where a block of Jacobians, (JACOBIAN_BLOCK, H, H)
    floats, holds at most AHEAD_BYTES: memory outside the trace budget stays small."""
    key, text = (model_key, tt.text), tt.text
    H = ck.config.hidden_size
    resident = catalogue.is_resident(ck)
    cheap = resident and min(t - since, JACOBIAN_BLOCK) * H * H * 4 <= AHEAD_BYTES

    def job() -> None:
        with _TRACES_LOCK:
            held = _TRACES.get(key)  # None once evicted: then nothing is computed for it
        for compute in numbers if held is not None and resident else ():
            compute(held)
        if held is not None and t > 0 and cheap:
            gradient_norms(model_key, text, t, layer, since, held)
            contrast = contrast_for(ck)  # loads the plain RNN here, not on the page's path
            if contrast:
                rnn_gradient_norms(contrast, text, t, since)
        del held

    _AHEAD.submit(job)
