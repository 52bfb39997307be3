"""GRU stepper: streamlit run dashboard/app.py

Type a text, pick a step and a hidden unit, and see every term of nn.GRU's update for it. The page
only asks gru_core and draws; the URL carries the whole view, so a link reproduces it exactly.

Data flow (docs/architecture.md): URL -> session_state (selection.init_from_url) -> widgets ->
one frozen Selection -> cached trace (cache.trace) -> the view's render function -> charts.
"""

from __future__ import annotations

import string
from dataclasses import replace

import streamlit as st

from dashboard import (
    budget,
    cache,
    catalogue,
    live_chart,
    selection,
)
from dashboard.registry import LABELS, QUESTIONS, VIEWS
from dashboard.selection import UPLOAD, Selection, clamp, notice
from dashboard.text import file_label, highlighted_text, plain
from dashboard.views import signal
from dashboard.views.questions import index
from dashboard.views.stepper import screen_share, start_from
from gru_core import (
    Checkpoint,
    CheckpointError,
    FeatureCheckpoint,
    MaskedStep,
    TextTrace,
    UnknownTokens,
    read_vocab,
)
from gru_core.core.checkpoint import NoVocabulary

st.set_page_config(page_title="GRU stepper", layout="wide")


def pick_model() -> tuple[Checkpoint, str]:
    names = catalogue.available() + [UPLOAD]
    if st.session_state.get("ckpt") not in names:
        notice(f"Model {plain(st.session_state.get('ckpt'))} is not shipped with this copy; "
               f"showing {names[0]}.")
        st.session_state["ckpt"] = names[0]
    name = st.selectbox("Model", names, key="ckpt", on_change=_forget_unit,
                        format_func=lambda n: "upload your own…" if n == UPLOAD else n)
    if name != UPLOAD:
        return catalogue.model(name), name
    # The vocabulary is asked first (a plain state_dict needs it), in a block of its own above
    # the model file: its uploader appearing must not move the model file's, which the
    # frontend would then remount empty, losing the file at the next rerun.
    vocab_box = st.container()
    file = st.file_uploader("Model file: a checkpoint from `python -m gru_core.train`, your "
                            "model's state_dict, or a Keras model (.keras, .h5)",
                            type=["pt", "pth", "safetensors", "keras", "h5"], key="model_file")
    with vocab_box:
        vocab = pick_vocab()
    if file is None:
        show_notices()  # the page stops here: a notice to upload again is shown now
        st.info("Upload `torch.save(model.state_dict(), \"model.pt\")` of a model with an "
                "nn.GRU (and, if it has them, its nn.Embedding and nn.Linear head), or a "
                "safetensors file, and say which tokens it reads.")
        st.stop()
    data = file.getvalue()
    features = st.session_state.get("vocab_source") == "features"
    key = catalogue.upload_key(data, vocab, features)
    try:
        with st.spinner("Checking the uploaded file…"):
            ck = catalogue.uploaded(key, data, vocab, file_label(file.name), features)
    except NoVocabulary:
        if features:
            st.error("This file cannot be used: only a Keras model (.keras, .h5) is read as "
                     "a model of feature vectors; a state_dict's GRU reads tokens.")
            st.stop()
        st.info("This file is a plain state_dict: it carries no vocabulary. Pick the tokens it "
                "reads in “Vocabulary” above (the list it was trained with, in order).")
        st.stop()
    except CheckpointError as e:
        st.error(f"This file cannot be used: {plain(e, 300)}")
        st.stop()
    st.success("Found: " + plain("; ".join(ck.meta.get("found",
                                                    ["this project's checkpoint format"])), 300))
    return ck, key


VOCABS = {"file": "from the file (checkpoints of this project carry theirs)",
          "features": "none: a Keras model that reads feature vectors (T, F)",
          "printable": "string.printable (100 characters: spro/char-rnn.pytorch)",
          "upload": "a vocabulary file…"}


def pick_vocab() -> list[str] | None:
    """The tokens a plain state_dict reads, in the order it was trained with."""
    shipped = {f"of:{n}": f"the vocabulary of {n}" for n in catalogue.text_models()}
    choice = st.selectbox("Vocabulary", [*VOCABS, *shipped], key="vocab_source",
                          format_func={**VOCABS, **shipped}.get)
    if choice == "printable":
        return list(string.printable)
    if choice.startswith("of:"):
        return list(catalogue.model(choice[3:]).vocab.tokens)
    if choice != "upload":
        return None
    file = st.file_uploader("Vocabulary: one token per line (\\n for the newline), or a JSON "
                            "list", type=["txt", "json"], key="vocab_file")
    if file is None:
        st.stop()
    try:
        return read_vocab(file.getvalue())
    except ValueError as e:
        st.error(f"This vocabulary cannot be used: {plain(e, 300)}")
        st.stop()


def _forget_unit() -> None:
    """Another model: unit, layer and direction carry over where they exist in it, and are
    moved into its range without a notice (the notices are for values a link asked for)."""
    st.session_state["_model_changed"] = True


def pick_unit_layer(ck: Checkpoint, model_key: str) -> tuple[int, int, int]:
    cfg = ck.config
    layer = direction = 0
    quiet = st.session_state.pop("_model_changed", False)
    clamp("layer", cfg.num_layers - 1, "layers of this model", quiet=quiet)
    if cfg.num_layers > 1:
        layer = st.selectbox("Layer", range(cfg.num_layers), key="layer")
    clamp("direction", int(cfg.bidirectional), "0 forward, 1 reverse" if cfg.bidirectional
          else "this model reads forward only", quiet=quiet)
    if cfg.bidirectional:
        direction = st.selectbox("Direction", (0, 1), key="direction",
                                 format_func=("forward", "reverse").__getitem__)
    if "unit" not in st.session_state:
        st.session_state["unit"] = default_unit(ck, model_key, layer)
    clamp("unit", cfg.hidden_size - 1, f"this model has {cfg.hidden_size} units", quiet=quiet)
    unit = st.number_input(f"Hidden unit (0–{cfg.hidden_size - 1})", min_value=0,
                           max_value=cfg.hidden_size - 1, step=1, key="unit")
    return int(unit), layer, direction


def default_unit(ck: Checkpoint, model_key: str, layer: int) -> int:
    if ck.name.startswith("agreement"):
        return int(cache.number_units(model_key, ck, layer).unit[0])
    return 0


def read_text(ck: Checkpoint, model_key: str, start: cache.Start | None = None) -> str:
    """The text area; stops the page with a message if the model cannot read the text. The
    trace is the check (so a step change does no extra work), and it is left in the cache:
    holding it here would keep an evicted trace alive while the page runs."""
    text, longest = st.session_state.get("text", ""), budget.max_text()
    if len(text) > longest:
        notice(f"The text has {len(text):,} characters; only the first "
               f"{longest:,} are used (the longest this server accepts).")
        st.session_state["text"] = text = text[:longest]
    text = st.text_area(f"Text the GRU reads, one {'word' if ck.vocab.words else 'character'} "
                        "per step", key="text", height=90, max_chars=longest)
    if not text:
        st.warning("The text is empty: type a sentence for the GRU to read.")
        st.stop()
    trace_or_stop(ck, model_key, text, start)
    return text


def trace_or_stop(ck: Checkpoint, model_key: str, text: str,
                  start: cache.Start | None = None) -> TextTrace:
    """The cached trace, or the page stopped with the reason the model cannot read the text."""
    try:
        return cache.trace(model_key, ck, text, start)
    except cache.TooLarge as e:
        st.error(f"{str(e).capitalize()}: shorten the text.")
        st.stop()
    except cache.Busy as e:
        st.warning(f"{str(e).capitalize()}.")
        st.stop()
    except UnknownTokens as e:
        shown = ", ".join(plain(tok, 12) for tok in e.tokens[:8]) + " …" * (len(e.tokens) > 8)
        where = ", ".join(map(str, e.positions[:8])) + " …" * (len(e.positions) > 8)
        st.error(f"The model {plain(ck.name)} cannot read this text: {len(e.tokens)} "
                 f"{e.kind if len(e.tokens) > 1 else e.kind[:-1]} "
                 f"not in its vocabulary: {shown} (positions {where}).")
        st.button(f"Drop those {e.kind}", on_click=_drop, args=(ck,))
        if ck.vocab.unknown is not None:  # a fixed name (vocab.UNKNOWN), never the file's text
            st.button(f"Read them as `{ck.vocab.unknown}`", on_click=_rewrite,
                      args=(ck.vocab.as_unknown,))
        if ck.vocab.lowered(text) is not None:
            st.button("Lower-case the text (the vocabulary has no capitals)", on_click=_rewrite,
                      args=(lambda t: ck.vocab.lowered(t) or t,))
        st.stop()
    except MaskedStep as e:  # names from the file: quoted
        st.error(f"The model {plain(ck.name)} cannot step this text: {e.say(plain)}.")
        st.stop()
    except ValueError as e:
        st.warning(f"{str(e).capitalize()}: type a sentence for the GRU to read.")  # ours
        st.stop()


def _drop(ck: Checkpoint) -> None:
    st.session_state["text"] = ck.vocab.without_unknown(st.session_state["text"])


def _rewrite(how) -> None:
    st.session_state["text"] = how(st.session_state["text"])


def pick_step(T: int, chart_keys: bool, label: str = "Timestep t (index of the token read)",
              what: str = "the text") -> int:
    t = clamp("t", T - 1, f"{what} has {T} steps, 0..{T - 1}")
    if T == 1:
        st.caption(f"t = 0 ({what} has one step)")
        return 0
    # the step chart takes ← and → itself (no press lost during a rerun: live_chart), and
    # ▶ play: its player runs in the browser, the card and the cell beside it following
    keys = not chart_keys
    prev, slider, nxt, *play = st.columns([3, 9, 3, 2.2] if chart_keys else [3, 10, 3],
                                          vertical_alignment="bottom")
    prev.button("◀ previous step", key="prev", on_click=_move, args=(-1, T), disabled=t == 0,
                help="one step back (← key)", shortcut="left" if keys else None)
    nxt.button("next step ▶", key="next", on_click=_move, args=(1, T), disabled=t == T - 1,
               help="one step on (→ key)", shortcut="right" if keys else None)
    if play:
        play[0].button("▶ play", key="play", on_click=_play, width="stretch",
                       help="runs through the text (space: play / pause); the speed is set "
                            "above the chart")
    return slider.slider(label, 0, T - 1, key="t")


def _play() -> None:
    """▶ play where the browser's player did not take the click: the chart starts it."""
    st.session_state["playing"] = True


def _move(delta: int, T: int) -> None:
    st.session_state["t"] = min(max(st.session_state["t"] + delta, 0), T - 1)
    st.session_state["playing"] = False


def sidebar() -> tuple[Selection, signal.Input | None]:
    """The controls that do not depend on t; t is chosen in the fragment below. A model that
    reads feature vectors gets an input picker where a text model gets its text."""
    with st.sidebar:
        st.title("GRU stepper")
        view = st.radio("View", list(LABELS), format_func=LABELS.get, key="view")
        ck, model_key = pick_model()
        st.radio("Notation", list(selection.NOTATIONS), format_func=selection.NOTATIONS.get,
                 key="notation", horizontal=True)
        if view == "step":  # the stepper's layout, where a screen sharer looks for it at once
            screen_share.toggle()
        unit, layer, direction = pick_unit_layer(ck, model_key)
        size = f"{plain(ck.name)}: {ck.config.num_layers} layer(s) × {ck.config.hidden_size} units"
        if isinstance(ck, FeatureCheckpoint):
            given, (h0_ckpt, h0_text) = signal.pick_input(ck, model_key), (None, "")
            st.caption(f"{size}, reads (T, {ck.features}) feature vectors")
        else:
            given, (h0_ckpt, h0_text) = None, start_from.pick()
            st.caption(f"{size}, {len(ck.vocab)} {ck.vocab.kind}")
    return Selection(view, model_key, ck, st.session_state.get("text", ""),
                     st.session_state.get("t", 0), unit, layer, direction,
                     st.session_state["notation"], h0_ckpt, h0_text), given


def refused_models() -> None:
    """Host-named models that could not be read (not offered), each once, as plain text."""
    for message in catalogue.refused():
        st.error(plain(message, 300))


def main() -> None:
    refused_models()
    selection.init_from_url([*VIEWS, QUESTIONS], catalogue.available(), "agreement",
                            [p for v in VIEWS.values() for p in v.params])
    for view in VIEWS.values():  # after it: e.g. the what-if edit is read in the link's notation
        for read in view.from_url:
            read()
    for key in ("text", "t", "h0_text"):  # kept while their widgets are not shown (Questions)
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    sel, given = sidebar()
    if sel.view == QUESTIONS:
        live_chart.forget_sent()  # this page draws no step chart
        show_notices()
        selection.write_url(sel.params())
        index([v for v in VIEWS.values() if v.link])
        return
    if given is not None:
        features_page(sel, given)
        return
    heading = st.empty()  # in every view, so the step's block below keeps its place
    if VIEWS[sel.view].heading:
        heading.header(VIEWS[sel.view].question)
    at_step(replace(sel, text=read_text(sel.model, sel.model_key, start_from.state(sel))))


def features_page(sel: Selection, given: signal.Input) -> None:
    """A model reading feature vectors: its own page (views/signal.py) whatever the view; the
    question views read a text model (tokens, a next-token head), and say so here."""
    live_chart.forget_sent()  # this page draws no step chart
    if sel.view != next(iter(VIEWS)):
        st.info(f"“{LABELS[sel.view]}” reads a text model: its tokens and a head that predicts "
                "the next one. This model reads feature vectors, so it is stepped here, frame "
                "by frame.")
    st.header("Step through the input: which frames each GRU step reads, what the head says")
    tt = signal.trace(sel, given)
    sel = replace(sel, t=pick_step(tt.T, False, "GRU step t (the input frames it reads are "
                                   "marked below)", "the input"))
    show_notices()
    selection.write_url(sel.params(text=None, input=given.source))
    signal.render(sel, tt, given)


@st.fragment
def at_step(sel: Selection) -> None:
    """Everything that depends on t. A fragment: stepping reruns only this part of the page.
    Streamlit keeps a fragment's arguments, so it gets the selection, not the trace: the
    trace stays in the byte-bounded cache, and a step after an eviction runs it again."""
    tt = trace_or_stop(sel.model, sel.model_key, sel.text, start_from.state(sel))
    view = VIEWS[sel.view]
    if view.uses_t:
        sel = replace(sel, t=pick_step(tt.T, view.draws_chart))
        with st.container(key="display"):  # the player dims it while it runs ahead of t
            st.markdown(highlighted_text(tt.text, tt.vocab.spans(tt.text), sel.t),
                        unsafe_allow_html=True)
    else:  # the answer is about the whole text: no step is marked (st.text renders no markup)
        st.text(tt.text if len(tt.text) <= 320 else tt.text[:320] + "…")
    show_notices()
    selection.write_url(sel.params(**{k: st.session_state.get(k) for k in view.params}))
    view.render(sel, tt)
    if st.session_state["unit"] != sel.unit:  # a click in a chart picked another unit: the
        st.rerun(scope="app")  # sidebar shows it, so the whole page runs again


def show_notices() -> None:
    for message in selection.notices():
        st.warning(message)
    selection.notices().clear()


main()
