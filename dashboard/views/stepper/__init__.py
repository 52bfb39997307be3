"""The stepper: the step card for (t, unit), the balance chart, heatmaps, prediction, export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gru_core import (
    CONVENTIONS,
    SYMBOLS,
    TextTrace,
    balance,
    contributions,
    heatmaps,
    shown_update,
    step_card,
    step_cards,
    step_summary,
    step_terms,
    top_k,
    trace_table,
    unit_order,
    what_if,
)

from ... import cache, charts
from ...export import (
    f4,
    forum_post,
    term_formula,
)
from ...live_chart import live_card, live_cell, live_chart
from ...post import show
from ...selection import Selection, write_url
from ...text import plain, show_token
from ...view import View
from . import cards as card_parts
from . import prediction, screen_share, start_from, whatif_link
from . import summary as summary_parts
from .cell import caption as cell_caption
from .cell import cell_figure, labels
from .controls import add_button

WIDTH, STRIDE = 60, 20  # steps in the charts (bounded JSON whatever the text length)
PLAYING = 120  # steps in the charts while the player runs: fewer round trips for new windows
CHART = "step_chart"  # the live chart's key
CARDS = "step_cards"  # the browser's cards' key
CELL = "step_cell"  # the cell's key


def window(t: int, T: int, playing: bool = False) -> slice:
    """WIDTH steps around t, moved in STRIDE-step jumps, so t keeps STRIDE steps of context on
    the left and the view does not scroll at every step. While playing, PLAYING steps that
    start just before t, so that the player runs as long as it can on the steps it holds."""
    if playing:
        lo = max(0, min(t - 5, T - PLAYING))
        return slice(lo, min(T, lo + PLAYING))
    lo = max(0, min((t // STRIDE - 1) * STRIDE, T - WIDTH))
    return slice(lo, min(T, lo + WIDTH))


def render(sel: Selection, tt: TextTrace) -> None:
    """The card beside the cell (the first screen at 1280×720), the prediction and the
    controls, the chart with its player and heatmaps, then the rest."""
    t, unit = sel.t, sel.unit
    card = step_card(tt, t, unit, sel.layer, sel.direction)
    tag = data_tag(sel, tt)
    w = window(t, tt.T, st.session_state.get("playing", False))  # the chart's and the cell's

    def show_card(size: str = r"\small") -> None:
        card_parts.draw(card_parts.parts(card, sel.notation, size, tt.config.num_layers))
        _browser_cards(sel, tt, tag, w, size)  # the window's cards, for the browser to step
        st.markdown(start_from.words(sel, tt))  # where the state at t = 0 came from
        if tt.padding:  # a Keras mask's padding at the end, left out of the trace
            st.caption(tt.padding_note(plain))
        st.caption(f"Whose numbers: {CONVENTIONS[tt.convention].framework} "
                   f"(convention {tt.convention}).")

    with st.container():
        if screen_share.on():  # card and the unit's chart side by side (screen_share.py)
            screen_share.card_and_chart(sel, tt, window(t, tt.T), show_card)
            left, right = st.columns(2)
            with left:
                _cell(sel, tt, tag, w)
            with right:
                prediction.draw(tt, t, w, f"{tag}:{w.start}:{w.stop}")
        else:
            left, right = st.columns(2)
            with left:
                show_card()
            with right:
                _cell(sel, tt, tag, w)  # the same step's numbers, on the lecture's picture
                prediction.draw(tt, t, w, f"{tag}:{w.start}:{w.stop}")
        add_button(sel, tt)  # the worked example (controls.py)
    how = _order()
    order = unit_order(tt, how, sel.layer, sel.direction, w)
    rows = charts.heatmap_rows(order, unit)  # the heatmaps' rows: every unit where readable
    said = charts.rows_said(rows, order, unit, ORDER_WORDS[how])
    _chart(sel, tt, tag, w, f"{how}:{len(rows)}", rows, said)  # the balance, the heatmaps
    _chart_notes(sel, tt, said)
    summary = step_summary(tt, t, sel.layer, sel.direction)
    summary_parts.draw(summary_parts.parts(summary, sel.notation), unit, _select)
    _where_from(card, tt, sel.notation)
    if sel.notation == "course":
        card_parts.draw_differences(card_parts.parts(card, sel.notation)["differences"])
    _what_if(sel, tt)
    _export(sel, tt, card, summary)


def _select(unit: int) -> None:
    st.session_state["unit"] = unit


def _what_if(sel: Selection, tt: TextTrace) -> None:
    box = st.expander("What if? Set this unit's gate at t to another value and run on",
                      key="whatif", on_change="rerun")
    if not box.open or tt.config.bidirectional:
        whatif_link.forget()  # the URL carries the edit while the panel is open
        _write_url(sel)
        return
    course = sel.notation == "course"
    with box:
        a, b = st.columns([1, 3])
        gate = a.radio("Gate", ("z", "r"), key="whatif_gate", horizontal=True,
                       format_func={"z": "Γu" if course else "z", "r": sel.sym["r"]}.get)
        st.session_state.setdefault(f"whatif_{gate}", _opposite(sel, tt, gate))  # or a link's
        value = b.slider(f"New value of {'Γu' if course and gate == 'z' else sel.sym[gate]}",
                         0.0, 1.0, step=0.01, key=f"whatif_{gate}")
        if course and gate == "z":
            value = round(1.0 - value, 2)  # the course's Γu is 1 − z
        whatif_link.remember(gate, value)
        wi = what_if(tt, sel.t, sel.unit, gate, value, sel.layer, steps=20)
        st.markdown(wi.describe(_shown_vocab(tt), sel.notation, quote=plain))
        st.plotly_chart(charts.what_if_chart(wi, tt.tokens, sel.sym), config=charts.CONFIG,
                        key="whatif_chart")
        if wi.probs is not None:
            _what_if_prediction(sel, tt, wi)
    _write_url(sel)


def _opposite(sel: Selection, tt: TextTrace, gate: str) -> float:
    """The edit the panel opens on: the gate's far end from its actual value (an edit to where
    it already is would change nothing), as the slider shows it (Γu = 1 − z in course mode)."""
    actual = float(tt.gate(gate, sel.layer, sel.direction)[sel.t, sel.unit])
    value = 0.0 if actual >= 0.5 else 1.0
    return 1.0 - value if gate == "z" and sel.notation == "course" else value


def _shown_vocab(tt: TextTrace) -> list[str]:
    return [show_token(tok) for tok in tt.vocab.tokens]  # a space is ␣, as everywhere


def _write_url(sel: Selection) -> None:
    """The URL after the what-if panel changed the edit: the view's own parameters as they are."""
    write_url(sel.params(**{k: st.session_state.get(k) for k in VIEW.params}))


def _what_if_prediction(sel: Selection, tt: TextTrace, wi) -> None:
    """The prediction at a step the user picks; by default the one the edit changes most."""
    most = wi.decisive_step()
    at, outside = whatif_link.step(wi.steps, most)
    if outside:
        st.warning(outside)
    key = f"whatif_step:{sel.t}:{most}"
    names = {s: f"t = {s}, reading {show_token(tt.tokens[s])!r}"  # Streamlit keeps format_func:
             + (" (the edit changes it most)" if s == most else "") for s in wi.steps}  # not tt
    at = st.selectbox("Prediction after step", list(wi.steps), index=at - wi.steps.start,
                      key=key, on_change=whatif_link.pick, args=(key,), format_func=names.get)
    st.markdown(wi.describe_at(at, _shown_vocab(tt), quote=plain))
    left, right = st.columns(2)
    actual = tt.tokens[at + 1] if at + 1 < tt.T else None
    for col, probs, title in ((left, wi.probs[at - sel.t], "actual"),
                              (right, wi.probs_what_if[at - sel.t], "with the edit")):
        col.markdown(f"Next token after t = {at}, {title}:")
        col.dataframe(_top(tt, probs, actual), hide_index=True, column_config=PROBABILITY)


PROBABILITY = {"probability": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                             max_value=1)}


def _top(tt: TextTrace, probs, actual: str | None = None) -> pd.DataFrame:
    """The five likeliest next tokens, the actual one marked."""
    return pd.DataFrame([{"token": repr(show_token(tok)), "probability": p,
                          "": "← actual" if tok == actual else ""}
                         for tok, p in top_k(probs, tt.vocab)])


def _where_from(card, tt: TextTrace, notation: str = "pytorch") -> None:
    S = SYMBOLS[notation]
    box = st.expander(f"Where {S['r']}, {S['u']} and {S['n']} came from: the input's and "
                      f"{S['h_prev']}'s largest terms", key="where", on_change="rerun")
    if not box.open:  # drawn only while open: stepping stays fast
        return
    tables = contributions(tt, card.t, card.unit, card.layer, card.direction)
    with box:
        if notation == "course":
            st.caption("The sums below are written in PyTorch's names, which split the "
                       "course's W_r[c⟨t−1⟩, x⟨t⟩] into W_ir·x_t + W_hr·h_prev: in PyTorch, "
                       "h_prev is c⟨t−1⟩, r is Γr, n is c̃, and z = 1 − Γu is PyTorch's "
                       "update gate (the share of the old state kept).")
        if card.one_hot_index is not None:
            col = card.input_column
            st.markdown(
                f"x_t is one-hot at position **{card.one_hot_index}** "
                f"({plain(show_token(card.token))}), so W_ir·x_t is column "
                f"{card.one_hot_index} of W_ir, and likewise for W_iz and W_in. For unit "
                f"{card.unit}: W_ir = {f4(col['W_ir'])}, W_iz = {f4(col['W_iz'])}, "
                f"W_in = {f4(col['W_in'])}.")
        else:
            width = len(tt.layer_inputs[card.layer][card.t])
            if card.input_kind == "embedding":
                st.markdown(
                    f"x_t is row **{card.token_id}** of the embedding E "
                    f"({plain(show_token(card.token))}), a dense vector of {width} numbers, "
                    "so W_ir·x_t is a sum over all "
                    f"{width} of them, not one column. The dimensions j that contribute most "
                    f"to unit {card.unit}:")
            else:
                st.markdown(f"Layer {card.layer} reads the output of layer {card.layer - 1} "
                            f"({width} numbers), not a one-hot vector. Its units j that "
                            f"contribute most to unit {card.unit}:")
            _terms_tables(card, ("ir", "iz", "in"), tables, "x_t")
        _terms_tables(card, ("hr", "hz", "hn"), tables, "h_prev")


def _terms_tables(card, keys: tuple[str, ...], tables: dict, vector: str) -> None:
    """Per term, the products W[unit, j]·v[j] of its sum that are largest in size."""
    for col, key in zip(st.columns(len(keys)), keys, strict=True):
        with col:
            st.markdown(f"**{key}** = {term_formula(card, key, vector)} = "
                        f"{f4(card.terms[key])}")
            st.table(tables[key].round(4).set_index("j"))


def data_tag(sel: Selection, tt: TextTrace) -> str:
    """Names the (model, text) a live chart draws. Not id(tt): a cached trace that is evicted
    frees its id for the next one, and the chart would keep the old text's numbers."""
    return f"{sel.model_key}:{hash(tt.text)}:{hash(sel.start)}"


ORDERS = {"index": "unit index", "mean z": "mean {z} over these steps (holders first)",
          "similarity": "similarity (units that move together, together)"}
ORDER_WORDS = {"index": "by index", "mean z": "holders first", "similarity": "by similarity"}


def _order() -> str:
    """The heatmaps' row order the selectbox under the chart holds (its URL parameter)."""
    how = st.session_state.get("order")
    return how if how in ORDERS else "index"


def _order_label(notation: str) -> dict[str, str]:
    """ORDERS in the notation: the holders are the units of high z, low Γu."""
    z = "z" if notation == "pytorch" else "Γu, lowest"
    return {k: v.format(z=z) for k, v in ORDERS.items()}


def _browser_cards(sel: Selection, tt: TextTrace, tag: str, w: slice, size: str) -> None:
    """The card of every step of the chart's window (gru_core.step_cards, formatted as the card
    above is) with the step's summary of every unit (summary.py), sent when the window
    changes (the chart's: the player's steps too): ◀ ▶, the keys, the slider and ▶ play
    show them at once."""

    def compute() -> list[dict]:
        layers = tt.config.num_layers
        return [{**card_parts.parts(c, sel.notation, size, layers),
                 "summary": summary_parts.parts(
                    step_summary(tt, c.t, sel.layer, sel.direction), sel.notation)}
                for c in step_cards(tt, sel.unit, sel.layer, sel.direction, w)]

    revision = (f"{tag}:{sel.layer}:{sel.direction}:{w.start}:{w.stop}:{sel.unit}:"
                f"{sel.notation}:{size}")
    key = (sel.model_key, tt.text, sel.start, sel.layer, sel.direction, w.start, w.stop,
           sel.unit, sel.notation, size)  # a reopened link finds its window's cards
    live_card(lambda: cache.window_parts(key, compute), revision, sel.t, key=CARDS)


def _chart(sel: Selection, tt: TextTrace, tag: str, w: slice, rows_tag: str, rows: list[int],
           said: str) -> None:
    """The live chart: the player, the unit's balance and the heatmaps of the units in `rows`
    (top row first; `said` names them)."""
    sym, unit = sel.sym, sel.unit

    def figure() -> dict:
        df = balance(tt, unit, sel.layer, sel.direction, w)
        mats = heatmaps(tt, sel.layer, sel.direction, w)
        return {**charts.step_chart(df, mats, sel.t, unit, sym, rows, said),
                "steps": card_lines(df, unit, sel.notation)}

    # the drawn data depend on all of these; t only moves the marker lines
    revision = (f"{tag}:{sel.layer}:{sel.direction}:{w.start}:{w.stop}:{unit}:{sel.notation}:"
                f"{rows_tag}")
    player = {"t": sel.t, "T": tt.T, "playing": st.session_state.get("playing", False)}
    live_chart(figure, revision, charts.step_markers(sel.t, rows.index(unit)), charts.CONFIG,
               key=CHART, on_click=_clicked, player=player, on_play=_played)


def _chart_notes(sel: Selection, tt: TextTrace, said: str) -> None:
    """Under the chart: how to read it, which units the heatmaps draw, and their order."""
    sym, unit = sel.sym, sel.unit
    st.caption(
        f"Top, for unit {unit}: each bar pair adds up to {sym['h']} (black line). When "
        f"{sym['z']} (dotted, right axis) is near 1 the unit keeps its old value (blue); near 0 it "
        f"takes the candidate (orange). Below, {said}, one row each, at the same steps: look "
        f"for rows that stay one colour in {sym['z']}; those units hold their value while "
        "others change. Click a cell to jump to its step and unit, a bar to jump to its step.")
    labels = _order_label(sel.notation)
    st.selectbox("Heatmap rows: order the units by", list(ORDERS), key="order",
                 format_func=labels.get)


def _cell(sel: Selection, tt: TextTrace, tag: str, w: slice) -> None:
    """The cell at t, with its labels at every step of the chart's window w: the player, ◀ ▶
    and the keys rewrite them in the browser (live_chart.live_cell), so it follows the card."""

    def figure() -> dict:
        rows = step_terms(tt, sel.unit, sel.layer, sel.direction, w)
        at = rows[sel.t - w.start]
        layer = sel.layer if tt.config.num_layers > 1 else None  # named where there are two
        fig = cell_figure(at, sel.notation, tt.tokens[sel.t], sel.t, sel.unit, layer)
        return {"cell": fig.to_plotly_json(), "steps": [
            {"t": row["t"], "labels": labels(row, sel.notation, tt.tokens[row["t"]], row["t"],
                                             sel.unit, layer)} for row in rows]}

    revision = f"{tag}:{sel.layer}:{sel.direction}:{w.start}:{w.stop}:{sel.unit}:{sel.notation}"
    live_cell(figure, revision, sel.t, charts.CONFIG, key=CELL)
    st.caption(cell_caption(CONVENTIONS[tt.convention], sel.notation))


def card_lines(df: pd.DataFrame, unit: int, notation: str) -> list[dict]:
    """The step card of each step in the window, one line each, for the player."""
    n, h_prev, h = (SYMBOLS[notation][k] for k in ("n", "h_prev", "h"))
    lines = []
    for row in df.itertuples():
        gate = f"{SYMBOLS[notation]['u']} = {f4(shown_update(row.z, notation))}"  # the card's
        lines.append({"t": int(row.t), "line": (
            f"t = {row.t} {show_token(row.token)!r} · unit {unit}: {gate} · {n} = "
            f"{f4(row.n)} · {h_prev} {f4(row.h_prev)} → {h} {f4(row.h)} "
            f"(kept {f4(row.keep)} + new {f4(row.new)})")})
    return lines


def _played(value: dict) -> None:
    """The player paused, or reached the end of its window: the page follows it."""
    st.session_state["t"] = int(value["t"])
    st.session_state["playing"] = bool(value["playing"])


def _clicked(click: dict) -> None:
    st.session_state["t"] = int(click["t"])
    if click["unit"] is not None:
        st.session_state["unit"] = int(click["unit"])


def _export(sel: Selection, tt: TextTrace, card, summary) -> None:
    box = st.expander("Copy as forum post, or download the numbers", key="export",
                      on_change="rerun")
    if not box.open:
        return
    with box:
        lines = [summary.headline(sel.notation), *summary.sentences(sel.notation)]
        start = "" if sel.start is None else start_from.words(sel, tt)
        post = forum_post(card, sel.model.name, tt.text, sel.link(), sel.notation, lines, start)
        show(post, sel.model_key, tt.text, sel.link())  # the poster's notes beside it
        a, b = st.columns(2)
        a.download_button("CSV: this unit, every step", key="csv_unit", mime="text/csv",
                          file_name=f"gru_trace_unit{sel.unit}.csv",
                          data=cache.later(sel, lambda tt: _csv(trace_table(
                              tt, sel.layer, sel.direction, [sel.unit]))))
        w = window(card.t, tt.T)
        b.download_button("CSV: every unit, steps in the charts", key="csv_window",
                          mime="text/csv", file_name=f"gru_trace_t{w.start}-{w.stop - 1}.csv",
                          data=cache.later(sel, lambda tt: _csv(trace_table(
                              tt, sel.layer, sel.direction, steps=w))))


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format="%.8g")


VIEW = View("step", "Stepper", "Every term of one step, for one unit", render,
            params=("order", *whatif_link.KEYS, "layout"),
            from_url=(whatif_link.init_from_url, screen_share.init_from_url),
            heading=False, draws_chart=True, ahead=True)
