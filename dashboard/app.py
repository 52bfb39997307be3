"""GRU stepper: streamlit run dashboard/app.py

Type a text, pick a step and a hidden unit, and see every term of nn.GRU's update for it. The page
only asks gru_core and draws; the URL carries the whole view, so a link reproduces it exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

from dashboard import models, questions, state, stepper  # noqa: E402
from gru_core import CheckpointError, TextTrace, UnknownCharacters  # noqa: E402

st.set_page_config(page_title="GRU stepper", layout="wide")


def pick_model():
    names = models.available() + [models.UPLOAD]
    if st.session_state.get("ckpt") not in names:
        state.notice(f"Model {st.session_state.get('ckpt')!r} is not shipped with this copy; "
                     f"showing {names[0]}.")
        st.session_state["ckpt"] = names[0]
    name = st.selectbox("Model", names, key="ckpt",
                        format_func=lambda n: "upload your own…" if n == models.UPLOAD else n)
    if name != models.UPLOAD:
        return models.shipped(name), name
    file = st.file_uploader("Checkpoint (.pt, format gru-stepper/1)", type=["pt"])
    if file is None:
        st.info("Upload a checkpoint written by `python -m gru_core.train`.")
        st.stop()
    data = file.getvalue()
    digest = models.digest(data)
    try:
        return models.uploaded(digest, data), digest
    except CheckpointError as e:
        st.error(f"This file cannot be used: {e}")
        st.stop()


def pick_unit_layer(ck) -> tuple[int, int, int]:
    cfg = ck.config
    layer = direction = 0
    if cfg.num_layers > 1:
        state.clamp("layer", cfg.num_layers - 1, "layers of this model")
        layer = st.selectbox("Layer", range(cfg.num_layers), key="layer")
    if cfg.bidirectional:
        state.clamp("direction", 1, "0 forward, 1 reverse")
        direction = st.selectbox("Direction", (0, 1), key="direction",
                                 format_func=("forward", "reverse").__getitem__)
    if "unit" not in st.session_state:
        st.session_state["unit"] = default_unit(ck, layer)
    state.clamp("unit", cfg.hidden_size - 1, f"this model has {cfg.hidden_size} units")
    unit = st.number_input(f"Hidden unit (0–{cfg.hidden_size - 1})", min_value=0,
                           max_value=cfg.hidden_size - 1, step=1, key="unit")
    return int(unit), layer, direction


def default_unit(ck, layer: int) -> int:
    if ck.name == "agreement":
        return int(models.number_table(ck.name, ck, layer).unit[0])
    return 0


def read_text(ck, model_key: str) -> tuple[str, TextTrace]:
    """The text area and the cached trace of its text; stops the page with a message if the
    model cannot read it (the trace is the check, so a step change does no extra work)."""
    text = st.session_state.get("text", "")
    if len(text) > models.MAX_CHARS:
        state.notice(f"The text has {len(text):,} characters; only the first "
                     f"{models.MAX_CHARS:,} are used.")
        st.session_state["text"] = text = text[: models.MAX_CHARS]
    text = st.text_area("Text the GRU reads, one character per step", key="text", height=90,
                        max_chars=models.MAX_CHARS)
    if not text:
        st.warning("The text is empty: type a sentence for the GRU to read.")
        st.stop()
    try:
        return text, models.trace(model_key, ck, text)
    except UnknownCharacters as e:
        st.error(f"The model `{ck.name}` cannot read this text: {e}.")
        st.button("Drop those characters", on_click=_drop, args=(set(e.chars),))
        st.stop()


def _drop(chars: set[str]) -> None:
    st.session_state["text"] = "".join(c for c in st.session_state["text"] if c not in chars)


def pick_step(T: int) -> int:
    t = state.clamp("t", T - 1, f"the text has {T} characters, steps 0..{T - 1}")
    if T == 1:
        st.caption("t = 0 (the text has one character)")
        return 0
    prev, slider, nxt = st.columns([1, 12, 1], vertical_alignment="bottom")
    prev.button("◀", key="prev", on_click=_move, args=(-1, T), disabled=t == 0,
                help="previous step")
    nxt.button("▶", key="next", on_click=_move, args=(1, T), disabled=t == T - 1,
               help="next step")
    return slider.slider("Timestep t (index of the character read)", 0, T - 1, key="t")


def _move(delta: int, T: int) -> None:
    st.session_state["t"] = min(max(st.session_state["t"] + delta, 0), T - 1)


def main() -> None:
    state.init_from_url()
    for key in ("text", "t"):  # kept while a view without these widgets (Questions) is shown
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    with st.sidebar:
        st.title("GRU stepper")
        view = st.radio("View", list(state.VIEWS), format_func=state.VIEWS.get, key="view")
        ck, model_key = pick_model()
        st.radio("Notation", list(state.NOTATIONS), format_func=state.NOTATIONS.get,
                 key="notation", horizontal=True)
        unit, layer, direction = pick_unit_layer(ck)
        st.caption(f"`{ck.name}`: {ck.config.num_layers} layer(s) × {ck.config.hidden_size} "
                   f"units, {len(ck.vocab)} characters")
    if view == "questions":
        show_notices()
        state.write_url(view_params(view, ck, st.session_state.get("text"),
                                    st.session_state.get("t"), unit, layer, direction))
        questions.index()
        return
    if view != "step":
        st.header(questions.GUIDED[view][0])
    text, tt = read_text(ck, model_key)
    at_step(view, ck, tt, unit, layer, direction)


@st.fragment
def at_step(view: str, ck, tt: TextTrace, unit: int, layer: int, direction: int) -> None:
    """Everything that depends on t. A fragment: stepping reruns only this part of the page."""
    t = pick_step(tt.trace.T)
    st.markdown(stepper.highlighted_text(tt.text, t), unsafe_allow_html=True)
    show_notices()
    params = view_params(view, ck, tt.text, t, unit, layer, direction)
    state.write_url(params)
    url = f"{st.context.url or ''}?{urlencode({k: v for k, v in params.items() if v is not None})}"
    if view == "step":
        stepper.render(ck, tt, t, unit, layer, direction, st.session_state["notation"], url)
    else:
        questions.render(view, ck, tt, t, unit, layer, direction, st.session_state["notation"])
    if st.session_state["unit"] != unit:  # a click in a chart picked another unit: the sidebar
        st.rerun(scope="app")  # shows it, so the whole page runs again


def view_params(view: str, ck, text, t, unit: int, layer: int, direction: int) -> dict:
    """What the URL carries; layer and direction only where the model has them."""
    return {"view": view, "ckpt": st.session_state["ckpt"], "text": text, "t": t, "unit": unit,
            "layer": layer if ck.config.num_layers > 1 else None,
            "direction": direction if ck.config.bidirectional else None,
            "notation": st.session_state["notation"]}


def show_notices() -> None:
    for message in state.notices():
        st.warning(message)
    state.notices().clear()


main()
