"""The stepper: the step card for (t, unit), the balance chart, heatmaps, prediction, export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gru_core import TextTrace, balance, heatmaps, step_card, trace_table

from .. import charts
from ..export import course_latex, f4, forum_post, pytorch_latex
from ..live_chart import live_chart
from ..selection import Selection
from ..text import show_token
from ..view import View

WIDTH, STRIDE = 60, 20  # steps in the charts (bounded JSON whatever the text length)


def window(t: int, T: int) -> slice:
    """WIDTH steps around t, moved in STRIDE-step jumps, so t keeps STRIDE steps of context on
    the left and the view does not scroll at every step."""
    lo = max(0, min((t // STRIDE - 1) * STRIDE, T - WIDTH))
    return slice(lo, min(T, lo + WIDTH))


def render(sel: Selection, tt: TextTrace) -> None:
    t, unit = sel.t, sel.unit
    card = step_card(tt, t, unit, sel.layer, sel.direction)
    tag = data_tag(sel, tt)
    left, right = st.columns([2, 1])
    with left:
        st.subheader(f"Step t = {t}, unit {unit}: reading {show_token(card.token)!r}")
        lines = course_latex(card) if sel.notation == "course" else pytorch_latex(card)
        st.latex(r"\small\begin{aligned}" + r"\\[6pt]".join(
            line.replace(" = ", " &= ", 1) for line in lines) + r"\end{aligned}")
        _verify(card)
    with right:
        _prediction(tt, t, tag)
    _where_from(card, tt)
    if sel.notation == "course":
        _differences(card)
    _charts(sel, tt, tag)
    _export(sel, tt, card)


def _prediction(tt: TextTrace, t: int, tag: str) -> None:
    if tt.probs is None:
        st.caption("This model has no head: it predicts nothing, only its states are shown.")
        return
    actual = tt.tokens[t + 1] if t + 1 < tt.T else None
    live_chart(charts.prediction_chart(tt.top_next(t), f"Next token after t = {t}", actual),
               f"{tag}:{t}", charts.CONFIG, key="pred")
    st.caption("The model's top 5 guesses for the token after t"
               + (f"; the text actually continues with {show_token(actual)!r} "
                  "(orange when it is among them)." if actual else "."))


def _verify(card) -> None:
    T = card.terms
    diff = "0 (bit for bit)" if T["h_diff"] == 0 else f"{T['h_diff']:.1e}"
    st.markdown(
        f"Recomputed **h = {f4(T['h'])}** · nn.GRU's own output **{f4(T['h_gru'])}** · "
        f"difference **{diff}**")
    st.caption("Recomputed in PyTorch's order, (h_prev − n)·z + n, from the gates above. "
               f"Summing kept + new instead rounds differently in float32: {T['split_diff']:+.1e}.")


def _where_from(card, tt: TextTrace) -> None:
    box = st.expander("Where r, z and n came from: the input's and h_prev's largest terms",
                      key="where", on_change="rerun")
    if not box.open:  # drawn only while open: stepping stays fast
        return
    with box:
        if card.one_hot_index is not None:
            col = card.input_column
            st.markdown(
                f"x_t is one-hot at position **{card.one_hot_index}** "
                f"({show_token(card.token)!r}), so W_ir·x_t is column "
                f"{card.one_hot_index} of W_ir, and likewise for W_iz and W_in. For unit "
                f"{card.unit}: W_ir = {f4(col['W_ir'])}, W_iz = {f4(col['W_iz'])}, "
                f"W_in = {f4(col['W_in'])}.")
        else:
            width = len(tt.layer_inputs[card.layer][card.t])
            if card.input_kind == "embedding":
                st.markdown(
                    f"x_t is row **{card.token_id}** of the embedding E ({show_token(card.token)!r}"
                    f"), a dense vector of {width} numbers, so W_ir·x_t is a sum over all "
                    f"{width} of them, not one column. The dimensions j that contribute most "
                    f"to unit {card.unit}:")
            else:
                st.markdown(f"Layer {card.layer} reads the output of layer {card.layer - 1} "
                            f"({width} numbers), not a one-hot vector. Its units j that "
                            f"contribute most to unit {card.unit}:")
            _terms_tables(card, ("ir", "iz", "in"), card.top_x, "x_t")
        _terms_tables(card, ("hr", "hz", "hn"), card.top_h_prev, "h_prev")


def _terms_tables(card, keys: tuple[str, ...], tables: dict, vector: str) -> None:
    """Per term, the products W[unit, j]·v[j] of its sum that are largest in size."""
    for col, key in zip(st.columns(len(keys)), keys, strict=True):
        with col:
            st.markdown(f"**{key}** = W_{key}·{vector} + b_{key} = {f4(card.terms[key])}")
            st.table(tables[key].round(4).set_index("j"))


def _differences(card) -> None:
    C, T = card.course, card.terms
    st.info(
        "**PyTorch vs the course, at this step.** (1) One bias per gate: b_r = b_ir + b_hr = "
        f"{f4(C['b_r'])}; r and Γr are the same number ({f4(C['Γr'])}). (2) Γu = 1 − z = "
        f"{f4(C['Γu'])}: the course's Γu is the share of the candidate taken, PyTorch's z the "
        "share of the old state kept. (3) The course applies Γr to c<t−1> before multiplying by "
        "W_c; PyTorch applies r after W_hn·h_prev + b_hn. With the same weights the candidates "
        "differ: "
        f"course c̃ = {f4(C['c̃'])}, PyTorch n = {f4(T['n'])}.")


def data_tag(sel: Selection, tt: TextTrace) -> str:
    """Names the (model, text) a live chart draws. Not id(tt): a cached trace that is evicted
    frees its id for the next one, and the chart would keep the old text's numbers."""
    return f"{sel.model_key}:{hash(tt.text)}"


def _charts(sel: Selection, tt: TextTrace, tag: str) -> None:
    w, sym, unit = window(sel.t, tt.T), sel.sym, sel.unit
    df = balance(tt, unit, sel.layer, sel.direction, w)
    fig = charts.step_chart(df, heatmaps(tt, sel.layer, sel.direction, w), sel.t, unit, sym)
    # the drawn data depend on all of these; t only moves the marker lines
    revision = f"{tag}:{sel.layer}:{sel.direction}:{w.start}:{unit}:{sym['z']}"
    live_chart(fig, revision, charts.CONFIG, key="step_chart", on_click=_clicked)
    st.caption(
        f"Top, for unit {unit}: each bar pair adds up to {sym['h']} (black line). When "
        f"{sym['z']} (dotted, right axis) is near 1 the unit keeps its old value (blue); near 0 it "
        "takes the candidate (orange). Below, every unit (rows) at the same steps: look for rows "
        f"that stay one colour in {sym['z']}; those units hold their value while others change. "
        "Click a cell to jump to its step and unit, a bar to jump to its step.")


def _clicked(click: dict) -> None:
    st.session_state["t"] = int(click["t"])
    if click["unit"] is not None:
        st.session_state["unit"] = int(click["unit"])


def _export(sel: Selection, tt: TextTrace, card) -> None:
    box = st.expander("Copy as forum post, or download the numbers", key="export",
                      on_change="rerun")
    if not box.open:
        return
    with box:
        st.code(forum_post(card, sel.model.name, tt.text, sel.link(), sel.notation),
                language="markdown")
        a, b = st.columns(2)
        a.download_button("CSV: this unit, every step", key="csv_unit", mime="text/csv",
                          file_name=f"gru_trace_unit{sel.unit}.csv",
                          data=lambda: _csv(trace_table(tt, sel.layer, sel.direction,
                                                        [sel.unit])))
        w = window(card.t, tt.T)
        b.download_button("CSV: every unit, steps in the charts", key="csv_window",
                          mime="text/csv", file_name=f"gru_trace_t{w.start}-{w.stop - 1}.csv",
                          data=lambda: _csv(trace_table(tt, sel.layer, sel.direction, steps=w)))


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format="%.8g")


VIEW = View("step", "Stepper", "Every term of one step, for one unit", render)
