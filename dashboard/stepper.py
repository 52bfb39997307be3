"""The stepper: the step card for (t, unit), the balance chart, heatmaps, prediction, export."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from gru_core.explain import balance, step_card, trace_table
from gru_core.notation import SYMBOLS

from . import charts
from .export import course_latex, f4, forum_post, pytorch_latex
from .live_chart import live_chart

WIDTH, STRIDE = 60, 20  # steps in the charts (bounded JSON whatever the text length)


def window(t: int, T: int) -> slice:
    """WIDTH steps around t, moved in STRIDE-step jumps, so t keeps STRIDE steps of context on
    the left and the view does not scroll at every step."""
    lo = max(0, min((t // STRIDE - 1) * STRIDE, T - WIDTH))
    return slice(lo, min(T, lo + WIDTH))


def highlighted_text(text: str, t: int, around: int = 160) -> str:
    lo, hi = max(0, t - around), min(len(text), t + around)
    before, here, after = (html.escape(s) for s in (text[lo:t], text[t], text[t + 1 : hi]))
    here = html.escape(charts.show_char(text[t])) if text[t] in " \n\t" else here
    return (f"<div style='font-family:monospace;white-space:pre-wrap;line-height:1.6'>"
            f"{'…' if lo else ''}{before}<mark style='background:#ffd54f;padding:0 2px;"
            f"border-radius:3px;font-weight:bold' title='t = {t}'>{here}</mark>{after}"
            f"{'…' if hi < len(text) else ''}</div>")


def render(ck, tt, t: int, unit: int, layer: int, direction: int, notation: str, url: str
           ) -> None:
    sym, tag = SYMBOLS[notation], _data_tag(ck, tt)
    card = step_card(ck.model, tt, t, unit, layer, direction)
    left, right = st.columns([2, 1])
    with left:
        st.subheader(f"Step t = {t}, unit {unit}: reading {charts.show_char(card.char)!r}")
        lines = course_latex(card) if notation == "course" else pytorch_latex(card)
        st.latex(r"\small\begin{aligned}" + r"\\[6pt]".join(
            line.replace(" = ", " &= ", 1) for line in lines) + r"\end{aligned}")
        _verify(card)
    with right:
        actual = tt.text[t + 1] if t + 1 < len(tt.text) else None
        live_chart(charts.prediction_chart(tt.top_next(t), f"Next character after t = {t}",
                                           actual), f"{tag}:{t}", charts.CONFIG, key="pred")
        st.caption("The model's top 5 guesses for the character after t"
                   + (f"; the text actually continues with {charts.show_char(actual)!r} "
                      "(orange when it is among them)." if actual else "."))
    _where_from(card, sym)
    if notation == "course":
        _differences(card)
    _charts(tag, tt, t, unit, layer, direction, sym)
    _export(ck, tt, card, notation, url, layer, direction, unit)


def _verify(card) -> None:
    T = card.terms
    diff = "0 (bit for bit)" if T["h_diff"] == 0 else f"{T['h_diff']:.1e}"
    st.markdown(
        f"Recomputed **h = {f4(T['h'])}** · nn.GRU's own output **{f4(T['h_gru'])}** · "
        f"difference **{diff}**")
    st.caption("Recomputed in PyTorch's order, (h_prev − n)·z + n, from the gates above. "
               f"Summing kept + new instead rounds differently in float32: {T['split_diff']:+.1e}.")


def _where_from(card, sym) -> None:
    box = st.expander("Where r, z and n came from: input column and largest h_prev terms",
                      key="where", on_change="rerun")
    if not box.open:  # drawn only while open: stepping stays fast
        return
    with box:
        if card.one_hot_index is not None:
            col = card.input_column
            st.markdown(
                f"x_t is one-hot at position **{card.one_hot_index}** "
                f"({charts.show_char(card.char)!r}), so W_ir·x_t is column "
                f"{card.one_hot_index} of W_ir, and likewise for W_iz and W_in. For unit "
                f"{card.unit}: W_ir = {f4(col['W_ir'])}, W_iz = {f4(col['W_iz'])}, "
                f"W_in = {f4(col['W_in'])}.")
        else:
            st.markdown(f"Layer {card.layer} reads the output of layer {card.layer - 1}, "
                        "not a one-hot vector.")
        cols = st.columns(3)
        for col, key in zip(cols, ("hr", "hz", "hn"), strict=True):
            with col:
                st.markdown(f"**{key}** = W_{key}·h_prev + b_{key} = {f4(card.terms[key])}")
                st.table(card.top_h_prev[key].round(4).set_index("j"))


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


def _data_tag(ck, tt) -> str:
    """Names the (model, text) a live chart draws. Not id(tt): a cached trace that is evicted
    frees its id for the next one, and the chart would keep the old text's numbers."""
    return f"{ck.name}:{hash(tt.text)}"


def _charts(tag: str, tt, t, unit, layer, direction, sym) -> None:
    w = window(t, tt.trace.T)
    df = balance(tt, unit, layer, direction, w)
    mats = {k: tt.trace.gate(k, layer, direction, w).t().numpy() for k in ("r", "z", "n", "h")}
    fig = charts.step_chart(df, mats, t, unit, sym)
    # the drawn data depend on all of these; t only moves the marker lines
    revision = f"{tag}:{layer}:{direction}:{w.start}:{unit}:{sym['z']}"
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


def _export(ck, tt, card, notation, url, layer, direction, unit) -> None:
    box = st.expander("Copy as forum post, or download the numbers", key="export",
                      on_change="rerun")
    if not box.open:
        return
    with box:
        st.code(forum_post(card, ck.name, tt.text, url, notation), language="markdown")
        a, b = st.columns(2)
        a.download_button("CSV: this unit, every step", key="csv_unit", mime="text/csv",
                          file_name=f"gru_trace_unit{unit}.csv",
                          data=lambda: _csv(trace_table(tt, layer, direction, [unit])))
        w = window(card.t, tt.trace.T)
        b.download_button("CSV: every unit, steps in the charts", key="csv_window",
                          mime="text/csv", file_name=f"gru_trace_t{w.start}-{w.stop - 1}.csv",
                          data=lambda: _csv(trace_table(tt, layer, direction, steps=w)))


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format="%.8g")
