"""Does a unit keep singular/plural across the clause?"""

from __future__ import annotations

import streamlit as st

from gru_core import TextTrace, clause_start, fmt, minimal_pair_of, were_minus_was

from .. import cache, charts
from ..selection import COURSE_TEXT, Selection, view_link
from ..view import View


def signed(v: float) -> str:
    """+0.123 / −0.123: one minus sign, as everywhere (fmt), with the plus of a difference."""
    text = fmt(v, 3)
    return text if text.startswith("−") or text == "0.000" else "+" + text


def render(sel: Selection, tt: TextTrace) -> None:
    ck, layer = sel.model, sel.layer
    if not ck.name.startswith("agreement"):
        st.info("The number-unit finder works on the `agreement` model: open it from the "
                f"[questions page]({view_link('number', **VIEW.link)}).")
        return
    table = cache.number_units(sel.model_key, ck, layer)
    words = ck.vocab.words
    pair = minimal_pair_of(tt.text, words) or minimal_pair_of(COURSE_TEXT, words)
    top = table.unit[:2].tolist()
    st.markdown(f"Ranked over 40 minimal pairs on held-out clauses, unit **{top[0]}** differs most "
                "between "
                f"singular and plural all through the clause (mean h difference "
                f"{signed(table.difference[0])}, held at {table.persistence[0]:.0%} of clause "
                "steps).")
    sg, pl = (cache.trace(sel.model_key, ck, text) for text in pair)
    cols = st.columns(2)
    for col, run, number in zip(cols, (sg, pl), ("singular", "plural"), strict=True):
        col.metric(f"P(were) − P(was), {number}: “{run.text}”", signed(were_minus_was(run)))
    start, start_pl = clause_start(sg), clause_start(pl)  # "cat," / "cats,", "boxes,"
    steps = range(start, sg.T)
    h_sg, h_pl = sg.gate("h", layer), pl.gate("h", layer)
    pairs = {u: (h_sg[start:, u].numpy(), h_pl[start_pl:, u].numpy()) for u in top}
    st.plotly_chart(charts.pair_lines(steps, sg.tokens[start:], pairs,
                                      "The top units through the clause: singular vs plural"),
                    config=charts.CONFIG, key="num_lines")
    st.caption("Same tokens from the comma on; a gap that stays open to the end is the memory "
               "of the subject's number.")
    last = dict(ckpt=sel.model_key, text=pl.text, t=pl.T - 1)
    st.markdown(" · ".join(f"[step through unit {u}]({view_link('step', **last, unit=u)})"
                           for u in top))
    st.dataframe(table.head(10).round(4), hide_index=True)


VIEW = View("number", "Number units", "Does a unit keep singular/plural across the clause?",
            render, link=dict(ckpt="agreement", text=COURSE_TEXT,
                              t=COURSE_TEXT.index(", were") + 2))
