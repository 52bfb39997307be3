"""Every cache of the app, in one place, with one key scheme: a model is named by its model key
(a shipped or host-given name, or "upload:<sha256>" of the file and its vocabulary) and a trace
by (model key, text). The objects behind a key are passed as underscore arguments, which
Streamlit does not hash. Which models exist is catalogue.py's; how much the traces may hold and
in what order they run is budget.py's."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
from typing import NamedTuple

import cachetools
import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import budget, catalogue
from dashboard.catalogue import CONTRASTS, model
from gru_core import Checkpoint, TextTrace, jacobian_norms, rnn_jacobian_norms
from gru_core import number_units as rank_number_units
from gru_core.data import agreement

_TRACES = cachetools.LRUCache(maxsize=0)
_TRACES_LOCK = threading.Lock()
_COMPUTING = [0]  # bytes the traces being computed hold at their peak (under _TRACES_LOCK)
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


def _session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


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
    cache = traces()
    with _TRACES_LOCK:
        if key in cache:
            return cache[key]
    T = len(ck.vocab.split(text))
    need = budget.peak_nbytes(ck, T) + (0 if catalogue.is_resident(ck) else
                                        budget.params_nbytes(ck))
    if need > cache.maxsize:
        raise budget.too_large(ck, T, need, cache.maxsize)
    with st.spinner("Running the GRU over the text…"), LANES.slot(T, _session_id()):
        with _TRACES_LOCK:
            if key in cache:  # another session ran it meanwhile
                return cache[key]
            room = cache.maxsize - _COMPUTING[0]
            evicted = bool(cache) and cache.currsize + need > room
            while cache and cache.currsize + need > room:
                cache.popitem()
            _COMPUTING[0] += need
        try:
            if evicted:  # a finished rerun can leave a trace in a reference cycle (.streamlit/
                gc.collect()  # config.toml turns the collection after every rerun off)
            tt = ck.trace(text) if start is None else ck.trace(text, start.h0, start.source)
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


@st.cache_data(max_entries=16, show_spinner="Differentiating h_t with respect to every h_s…")
def gradient_norms(model_key: str, text: str, t: int, layer: int, since: int,
                   _tt: TextTrace, start: tuple[str, str] | None = None) -> list[float]:
    return jacobian_norms(_tt, t, layer, since=since).tolist()


def contrast_for(ck: Checkpoint) -> str | None:
    """The plain RNN trained on the same data as this model (the same vocabulary), if any."""
    for name in CONTRASTS:
        if (catalogue.CHECKPOINT_DIR / f"{name}.pt").is_file() and ck.vocab == model(name).vocab:
            return name
    return None


@st.cache_data(max_entries=16, show_spinner="The same for the plain RNN…")
def rnn_gradient_norms(name: str, text: str, t: int, since: int) -> list[float]:
    """The plain RNN `name`'s curve over the same text (contrast_for names it)."""
    return rnn_jacobian_norms(model(name), text, t, since).tolist()
