"""Loading and caching: checkpoints by shipped name or upload, and traces per (model, text)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from gru_core import Checkpoint, TextTrace, agreement, load_checkpoint
from gru_core.units import number_units

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = ("agreement", "shakespeare", "shakespeare-2layer")  # the only names a URL may ask for
UPLOAD = "upload"
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


@st.cache_resource(max_entries=4, show_spinner="Checking the uploaded file…")
def uploaded(digest: str, _data: bytes) -> Checkpoint:
    ck = load_checkpoint(_data)
    ck.name = f"upload {digest[:8]}"
    return ck


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_resource(max_entries=32, show_spinner="Running the GRU over the text…")
def trace(model_key: str, _ck: Checkpoint, text: str) -> TextTrace:
    return _ck.trace(text)


@st.cache_resource(max_entries=4, show_spinner="Finding the units that carry number…")
def number_table(model_key: str, _ck: Checkpoint, layer: int = 0):
    """Units ranked on 40 minimal pairs built from the nouns and clauses held out in training."""
    seed = _ck.meta.get("hyperparameters", {}).get("seed", 0)
    return number_units(_ck, agreement.minimal_pairs(seed=seed, n=40), layer=layer)
