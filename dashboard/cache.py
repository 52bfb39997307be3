"""Every Streamlit cache of the app, in one place, with one key scheme: a model is named by its
model key (a shipped or host-given name, or "upload:<sha256>" of the file and its vocabulary)
and a trace by (model key, text). The objects behind a key are passed as underscore arguments,
which Streamlit does not hash."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import hashlib
import json
import os
import sys
import threading
from pathlib import Path

import cachetools
import streamlit as st

from gru_core import (
    Checkpoint,
    TextTrace,
    estimate_nbytes,
    jacobian_norms,
    load_checkpoint,
    read_vocab,
    rnn_jacobian_norms,
)
from gru_core import number_units as rank_number_units
from gru_core.data import agreement

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = ("agreement", "agreement-words", "shakespeare", "shakespeare-2layer")
# the plain RNNs the gradient view compares with, each trained on its GRUs' data; never stepped
CONTRASTS = ("shakespeare-rnn", "agreement-rnn")
MAX_CHARS = 100_000


def host_models() -> dict[str, tuple[Path, Path | None]]:
    """Models the host names when starting the app:
    streamlit run dashboard/app.py -- --model mine.pt [--vocab mine.json] [--model other.pt ...]
    (each --vocab belongs to the --model before it). Named after the file, linkable like the
    shipped ones; a URL can only pick among these names, never give a path."""
    p = argparse.ArgumentParser(prog="dashboard/app.py", add_help=False)
    p.add_argument("--model", action="append", default=[])
    p.add_argument("--vocab", action="append", default=[])
    args, _ = p.parse_known_args(sys.argv[1:])
    vocabs = args.vocab + [None] * (len(args.model) - len(args.vocab))
    return {Path(m).stem: (Path(m), v and Path(v)) for m, v in zip(args.model, vocabs,
                                                                   strict=False)}


def available() -> list[str]:
    shipped = [name for name in SHIPPED if (CHECKPOINT_DIR / f"{name}.pt").is_file()]
    return shipped + [name for name in host_models() if name not in shipped]


@st.cache_resource(max_entries=8, show_spinner="Loading model…")
def model(name: str) -> Checkpoint:
    """A shipped model or one the host named; never a path built from user input."""
    hosted = host_models()
    if name in hosted:
        path, vocab = hosted[name]
        ck = load_checkpoint(path, read_vocab(vocab.read_bytes()) if vocab else None)
    elif name in (*SHIPPED, *CONTRASTS):
        ck = load_checkpoint(CHECKPOINT_DIR / f"{name}.pt")
    else:
        raise KeyError(name)
    ck.name = name
    return ck


def upload_key(data: bytes, vocab: list[str] | None) -> str:
    digest = hashlib.sha256(data + json.dumps(vocab).encode()).hexdigest()
    return "upload:" + digest


@st.cache_resource(max_entries=4, show_spinner="Checking the uploaded file…")
def uploaded(model_key: str, _data: bytes, _vocab: list[str] | None) -> Checkpoint:
    ck = load_checkpoint(_data, _vocab)
    ck.name = f"upload {model_key.removeprefix('upload:')[:8]}"
    return ck


def budget_bytes() -> int:
    """The memory the traces may hold together: GRU_STEPPER_CACHE_MB, or cache_mb in
    .streamlit/secrets.toml; the default leaves room for the server itself on a 4 GiB host."""
    raw = os.environ.get("GRU_STEPPER_CACHE_MB")
    if raw is None:
        try:
            raw = st.secrets.get("cache_mb")
        except FileNotFoundError:  # no secrets file: fine
            raw = None
    return int(float(raw if raw is not None else DEFAULT_CACHE_MB) * 2**20)


DEFAULT_CACHE_MB = 2048  # + ~650 MiB for Python, torch and Streamlit: under 3 GiB at rest
_TRACES = cachetools.LRUCache(maxsize=1)
_TRACES_LOCK = threading.Lock()


def traces() -> cachetools.LRUCache:
    """The trace cache, made anew when the host's budget changes."""
    global _TRACES
    budget = budget_bytes()
    with _TRACES_LOCK:
        if _TRACES.maxsize != budget:
            _TRACES = cachetools.LRUCache(maxsize=budget, getsizeof=lambda tt: tt.nbytes())
        return _TRACES
_RUNNING = threading.Semaphore(1)  # one trace at a time: the cores are busy anyway, and a
# trace under construction is memory the cache does not see yet


class TooLarge(ValueError):
    """A text whose trace alone would not fit in the memory budget."""


def trace(model_key: str, ck: Checkpoint, text: str) -> TextTrace:
    """The trace of (model, text), from the cache if it is there. Traces are accounted by their
    size in bytes, least recently used evicted first; room is made before a trace is run."""
    key, cache = (model_key, text), traces()
    with _TRACES_LOCK:
        if key in cache:
            return cache[key]
    T = len(ck.vocab.split(text))
    need = estimate_nbytes(ck, T)
    if need > cache.maxsize:
        fit = int(T * cache.maxsize / need)
        raise TooLarge(f"this text is too long for this server: its trace would hold "
                       f"{need / 2**20:,.0f} MiB, more than the {cache.maxsize / 2**20:,.0f} "
                       f"MiB the host allows for traces (GRU_STEPPER_CACHE_MB). About "
                       f"{fit:,} {ck.vocab.kind} fit")
    with _RUNNING, st.spinner("Running the GRU over the text…"):
        with _TRACES_LOCK:
            if key in cache:  # another session ran it meanwhile
                return cache[key]
            evicted = bool(cache) and cache.currsize + need > cache.maxsize
            while cache and cache.currsize + need > cache.maxsize:
                cache.popitem()
        if evicted:  # a finished rerun can leave a trace in a reference cycle (.streamlit/
            gc.collect()  # config.toml turns the collection after every rerun off)
        tt = ck.trace(text)
        with _TRACES_LOCK:
            cache[key] = tt
        give_back_memory()
    return tt


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
                   _tt: TextTrace) -> list[float]:
    return jacobian_norms(_tt, t, layer, since=since).tolist()


def contrast_for(ck: Checkpoint) -> str | None:
    """The plain RNN trained on the same data as this model (the same vocabulary), if any."""
    for name in CONTRASTS:
        if (CHECKPOINT_DIR / f"{name}.pt").is_file() and ck.vocab == model(name).vocab:
            return name
    return None


@st.cache_data(max_entries=16, show_spinner="The same for the plain RNN…")
def rnn_gradient_norms(name: str, text: str, t: int, since: int) -> list[float]:
    """The plain RNN `name`'s curve over the same text (contrast_for names it)."""
    return rnn_jacobian_norms(model(name), text, t, since).tolist()
