"""The page of a model that reads feature vectors (a spectrogram): its input is picked in the
sidebar in place of the text box (the shipped sample, a .npy, or a .wav through the course's
spectrogram), the step's axis is frames (and seconds for audio), the input is drawn as a
picture with step t's frames marked, and the head's output at every step is the chart with t
marked. The selected unit's terms at t come from gru_core.step_terms."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from gru_core import NAMES, SYMBOLS, FeatureCheckpoint, FeatureTrace, MaskedStep, step_terms
from gru_core.core import audio, feature_input

from .. import cache, catalogue, charts
from ..selection import Selection
from ..text import file_label, plain

MAX_UPLOAD_BYTES = feature_input.MAX_NPY_BYTES
SOURCES = {"sample": "the shipped sample (a clip that holds the keyword)",
           "npy": "a .npy file: a (T, F) float array",
           "wav": "a .wav file (turned into the course's spectrogram)"}


@dataclass(frozen=True)
class Input:
    key: str  # names the input in the trace cache: "sample", or "npy:" / "wav:" and the digest
    load: Callable[[], np.ndarray]  # (T, F), what the model reads
    audio: bool  # frames 10 ms apart: the page also says seconds
    label: str  # what the page says it is (ours, file names through text.plain)

    @property
    def source(self) -> str:
        """sample, npy or wav: what the page's link carries (selection.INPUTS)."""
        return self.key.partition(":")[0]


def pick_input(ck: FeatureCheckpoint, model_key: str) -> Input:
    """The sidebar's input picker; stops the page with the reason for a file it cannot use."""
    sample = catalogue.sample_file(model_key)
    sources = [s for s in SOURCES if s != "sample" or sample is not None]
    if st.session_state.get("input") not in sources:
        st.session_state["input"] = sources[0]
    source = st.radio("Input the GRU reads", sources, format_func=SOURCES.get, key="input")
    if source == "sample":
        return Input("sample", lambda: np.load(sample, allow_pickle=False), True,
                     "the shipped sample")
    file = st.file_uploader(SOURCES[source], type=[source], key=f"input_{source}")
    if source == "wav":
        st.caption(plain(feature_input.recipe(ck.meta), 400))
    if file is None:
        st.info("Upload the input in the sidebar: "
                + ("a (T, F) float array saved with np.save" if source == "npy"
                   else "a PCM .wav clip") + f", F = {ck.features}.")
        st.stop()
    if file.size > MAX_UPLOAD_BYTES:
        st.error(f"This file has {file.size:,} bytes; inputs of up to "
                 f"{MAX_UPLOAD_BYTES:,} are read.")
        st.stop()
    data = file.getvalue()
    try:
        x = (feature_input.read_npy(data, ck.features) if source == "npy"
             else feature_input.wav_input(ck.meta, data))
    except ValueError as e:
        st.error(f"This file cannot be used: {plain(e, 300)}")
        st.stop()
    if sample is not None:
        st.caption("A link to this page opens the shipped sample: a link cannot carry an "
                   "uploaded file.")
    digest = hashlib.sha256(data).hexdigest()
    return Input(f"{source}:{digest}", lambda: x, source == "wav",
                 "the uploaded " + plain(file_label(file.name).removeprefix("upload ")))


def trace(sel: Selection, given: Input) -> FeatureTrace:
    try:
        return cache.feature_trace(sel.model_key, sel.model, given.key, given.load, given.audio)
    except (cache.TooLarge, cache.Busy) as e:
        st.error(f"{str(e).capitalize()}.")
        st.stop()
    except MaskedStep as e:  # a Masking layer's frame in the middle; its name quoted
        st.error(f"This input cannot be stepped: {e.say(plain)}.")
        st.stop()
    except ValueError as e:  # fewer frames than the layers before the GRU need
        st.error(f"This input cannot be stepped: {plain(e, 300)}")
        st.stop()


def render(sel: Selection, tt: FeatureTrace, given: Input) -> None:
    start, end = tt.span(sel.t)
    said = f"GRU step t = {sel.t} of {tt.T} reads input frames {start}–{end - 1}"
    if given.audio:
        s0, s1 = feature_input.step_seconds(tt, sel.t)
        said += f", {s0:.2f}–{s1:.2f} s of the clip"
    st.markdown(f"Input: {given.label}, {tt.x.shape[0]} frames × {tt.x.shape[1]} features. "
                f"{said}.")
    if tt.padding:  # a Masking layer's padding at the end, left out of the trace
        st.caption(tt.padding_note(plain))
    per_frame = audio.frame_seconds(1) if given.audio else None
    st.plotly_chart(charts.input_picture(tt.x.numpy(), (start, end), "The input, step t's "
                                         "frames marked", per_frame), key="signal_input")
    if tt.probs is not None:
        labels = list(sel.model.vocab.tokens)
        title = (f"P({labels[0]}) at every step" if len(labels) == 1
                 else "The head's output at every step")
        seconds = ([feature_input.step_seconds(tt, t)[1] for t in range(tt.T)]
                   if given.audio else None)
        st.plotly_chart(charts.head_over_steps(tt.probs.numpy(), labels, sel.t, title, seconds),
                        key="signal_head")
    terms = step_terms(tt, sel.unit, sel.layer, sel.direction, slice(sel.t, sel.t + 1))[0]
    st.markdown(f"Unit {sel.unit} at t = {sel.t}: every term of its update, read from the "
                "trace (the framework's own values)")
    names = [k for k in terms if k != "t"]
    symbols, said = SYMBOLS[sel.notation], NAMES[sel.notation]
    st.dataframe(pd.DataFrame({"term": names, "value": [terms[k] for k in names],
                               "symbol": [symbols.get(k, "") for k in names],
                               "meaning": [said.get(k, "") for k in names]}),
                 hide_index=True, key="signal_terms")
