"""Every Streamlit cache of the app, in one place, with one key scheme: a model is named by its
model key (a shipped name, or "upload:<sha256>" of the file) and a trace by (model key, text).
The objects behind a key are passed as underscore arguments, which Streamlit does not hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from gru_core import Checkpoint, TextTrace, jacobian_norms, load_checkpoint
from gru_core import number_units as rank_number_units
from gru_core.data import agreement

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = ("agreement", "shakespeare", "shakespeare-2layer")  # the only names a URL may ask for
MAX_CHARS = 100_000


def available() -> list[str]:
    return [name for name in SHIPPED if (CHECKPOINT_DIR / f"{name}.pt").is_file()]


@st.cache_resource(max_entries=8, show_spinner="Loading model…")
def shipped(name: str) -> Checkpoint:
    if name not in SHIPPED:  # never build a path from user input
        raise KeyError(name)
    ck = load_checkpoint(CHECKPOINT_DIR / f"{name}.pt")
    ck.name = name
    return ck


def upload_key(data: bytes) -> str:
    return "upload:" + hashlib.sha256(data).hexdigest()


@st.cache_resource(max_entries=4, show_spinner="Checking the uploaded file…")
def uploaded(model_key: str, _data: bytes) -> Checkpoint:
    ck = load_checkpoint(_data)
    ck.name = f"upload {model_key.removeprefix('upload:')[:8]}"
    return ck


@st.cache_resource(max_entries=32, show_spinner="Running the GRU over the text…")
def trace(model_key: str, _ck: Checkpoint, text: str) -> TextTrace:
    return _ck.trace(text)


@st.cache_resource(max_entries=4, show_spinner="Finding the units that carry number…")
def number_units(model_key: str, _ck: Checkpoint, layer: int = 0):
    """Units ranked on 40 minimal pairs built from the nouns and clauses held out in training."""
    seed = _ck.meta.get("hyperparameters", {}).get("seed", 0)
    return rank_number_units(_ck, agreement.minimal_pairs(seed=seed, n=40), layer=layer)


@st.cache_data(max_entries=16, show_spinner="Differentiating h_t with respect to every h_s…")
def gradient_norms(model_key: str, text: str, t: int, layer: int, since: int,
                   _tt: TextTrace) -> list[float]:
    return jacobian_norms(_tt, t, layer, since=since).tolist()
