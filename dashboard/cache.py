"""Every Streamlit cache of the app, in one place, with one key scheme: a model is named by its
model key (a shipped or host-given name, or "upload:<sha256>" of the file and its vocabulary)
and a trace by (model key, text). The objects behind a key are passed as underscore arguments,
which Streamlit does not hash."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import streamlit as st

from gru_core import (
    Checkpoint,
    TextTrace,
    jacobian_norms,
    load_checkpoint,
    read_vocab,
    rnn_jacobian_norms,
)
from gru_core import number_units as rank_number_units
from gru_core.data import agreement

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = ("agreement", "agreement-words", "shakespeare", "shakespeare-2layer")
CONTRAST = "shakespeare-rnn"  # the plain RNN the gradient view compares with; never stepped
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
    elif name in (*SHIPPED, CONTRAST):
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


@st.cache_resource(max_entries=32, show_spinner="Running the GRU over the text…")
def trace(model_key: str, _ck: Checkpoint, text: str) -> TextTrace:
    return _ck.trace(text)


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


@st.cache_data(max_entries=16, show_spinner="The same for a plain RNN…")
def rnn_gradient_norms(text: str, t: int, since: int) -> list[float] | None:
    """The plain RNN's curve on the same text, or None where it cannot read the text."""
    if not (CHECKPOINT_DIR / f"{CONTRAST}.pt").is_file():
        return None
    rnn = model(CONTRAST)
    try:
        return rnn_jacobian_norms(rnn, text, t, since).tolist()
    except ValueError:  # characters the Shakespeare vocabulary lacks
        return None
