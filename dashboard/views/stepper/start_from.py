"""Where h_prev at t = 0 comes from: zeros, or the final state h_n of a text on another model
(an encoder's, for a decoder). The sidebar's "Start from" control, the state it names (checked
against the model, with a clear message when it does not fit), and the card's sentence about it.
The URL carries it as h0_ckpt and h0_text (selection.start_from_url validates them)."""

from __future__ import annotations

import streamlit as st

from gru_core import SYMBOLS, Checkpoint, TextTrace, UnknownTokens
from gru_core.core.lm import initial_state

from ... import cache, catalogue
from ...export import f4
from ...selection import MAX_URL_TEXT, Selection
from ...text import plain

ZEROS = "h_prev at t = 0 is zeros (no initial state was given)"  # = TextTrace.starts_from


def pick() -> tuple[str | None, str]:
    """The sidebar's control: (model, text) whose final state the run starts from, or
    (None, "") for zeros."""
    names = catalogue.text_models()  # its final state comes from a text
    if st.session_state.get("h0_ckpt") not in (None, *names):
        st.session_state["h0_ckpt"] = None
    ckpt = st.selectbox("Start from (the state at t = 0)", [None, *names], key="h0_ckpt",
                        format_func=lambda n: "zeros" if n is None
                        else f"the final state of a text on {n}")
    if ckpt is None:
        return None, ""
    text = st.text_input(f"The text {ckpt} reads first (its final state starts this run)",
                         key="h0_text", max_chars=MAX_URL_TEXT)
    if not text:
        st.caption("Type the text: until then this run starts from zeros.")
        return None, ""
    return ckpt, text


def state(sel: Selection) -> cache.Start | None:
    """The initial state the selection names, or None for zeros; the page is stopped with the
    reason when the other model cannot read its text or its state does not fit this model."""
    if sel.start is None:
        return None
    ckpt, text = sel.start
    other = catalogue.model(ckpt)
    try:
        first = cache.trace(ckpt, other, text)
    except (UnknownTokens, ValueError, cache.TooLarge, cache.Busy) as e:
        st.error(f"Start from: {plain(ckpt)} cannot read its text ({plain(e, 200)}). Change "
                 "the text under “Start from”, or start from zeros.")
        st.stop()
    try:
        h0, source = initial_state(sel.model, first, None)  # gru_core's check of h0
    except ValueError:  # said here with both models' layouts, as the sidebar offers them
        want, cfg = _shape(sel.model), sel.model.config
        st.error(
            f"Start from: the final state of that text on {plain(ckpt)} is "
            f"{_layout(other, first.h_n)}, but {plain(sel.model.name)} starts from "
            f"{_layout(sel.model, None)}: h0 must be (layers × directions, units) = {want}, "
            f"{_dtype(sel.model)}, as nn.GRU takes it ({cfg.num_layers} layer(s), "
            f"{cfg.num_directions} direction(s), {cfg.hidden_size} units). Pick a model of "
            "this shape under “Start from”, or start from zeros.")
        st.stop()
    return cache.Start((ckpt, text), h0, source)


def _shape(ck: Checkpoint) -> tuple[int, int]:
    cfg = ck.config
    return cfg.num_layers * cfg.num_directions, cfg.hidden_size


def _dtype(ck: Checkpoint) -> str:
    return str(ck.module.recurrent.weight_hh_l0.dtype)[6:]


def _layout(ck: Checkpoint, h_n) -> str:
    """(shape) dtype: of the state h_n, or (None) of the state the model starts from."""
    if h_n is None:
        return f"{_shape(ck)} {_dtype(ck)}"
    return f"{tuple(h_n.shape)} {str(h_n.dtype)[6:]}"


def words(sel: Selection, tt: TextTrace, units: list[int] | None = None) -> str:
    """The card's (and the post's) sentence: where h_prev at t = 0 came from, with the units'
    values there. Markdown: the other model's name and its text enter only as plain() code
    spans, on the page and in a post."""
    h_prev = SYMBOLS[sel.notation]["h_prev"]
    if sel.start is None or tt.h0 is None:
        return ZEROS.replace("h_prev", h_prev, 1) + "."
    ckpt, text = sel.start
    row = sel.layer * tt.config.num_directions + sel.direction
    first = 0 if sel.direction == 0 else tt.T - 1  # the reverse pass starts at the end
    values = ", ".join(f"unit {u}: {f4(float(tt.h0[row, u]))}" for u in units or [sel.unit])
    final = "the final state h_n" if sel.notation == "pytorch" else "the final state"
    return (f"{h_prev} at t = {first} is {final} of {plain(text)} on {plain(ckpt)} "
            f"(for {values}), not zeros.")
