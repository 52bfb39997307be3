"""Does a unit keep singular/plural across the clause?"""

from __future__ import annotations

import streamlit as st

from gru_core import (
    TextTrace,
    clause_start,
    minimal_pair_of,
    number_claim,
    signed,
    were_minus_was,
)

from .. import cache, charts
from ..selection import COURSE_TEXT, Selection, view_link
from ..text import plain
from ..view import View

PAIRS = 40  # cache.number_units ranks on this many held-out minimal pairs
SENTENCE = 400  # characters of a pair's sentence shown under its metric (then "…")


def render(sel: Selection, tt: TextTrace) -> None:
    ck, layer, sym = sel.model, sel.layer, sel.sym
    if not ck.name.startswith("agreement"):
        here = dict(VIEW.link, notation=sel.notation)
        st.info("This view answers on the `agreement` models' minimal pairs (“The cat, which "
                "…, w” and “The cats, which …, w”), not on this model or your text: this "
                "model was not trained on the agreement task. "
                f"[Open it on the agreement model]({view_link('number', **here)}).")
        return
    table = cache.number_units(sel.model_key, ck, layer)
    words = ck.vocab.words
    own = minimal_pair_of(tt.text, words)
    pair = own or minimal_pair_of(COURSE_TEXT, words)
    st.markdown(number_claim(table, pair, own is not None, PAIRS, sym, plain).text)
    top = table.unit[:2].tolist()
    sg, pl = (cache.trace(sel.model_key, ck, text) for text in pair)
    cols = st.columns(2)
    for col, run, number in zip(cols, (sg, pl), ("singular", "plural"), strict=True):
        # a short label (a metric's label is cut to one line), the reader's sentence in full
        col.metric(f"P(were) − P(was), {number}", signed(were_minus_was(run)))
        col.caption(f"after {plain(run.text, limit=SENTENCE)}")
    start, start_pl = clause_start(sg), clause_start(pl)  # "cat," / "cats,", "boxes,"
    steps = range(start, sg.T)
    h_sg, h_pl = sg.gate("h", layer), pl.gate("h", layer)
    pairs = {u: (h_sg[start:, u].numpy(), h_pl[start_pl:, u].numpy()) for u in top}
    st.plotly_chart(charts.pair_lines(steps, sg.tokens[start:], pairs,
                                      "The top units through the clause: singular vs plural"
                                      + ("" if own else " (the course's pair)"), sym["h"]),
                    config=charts.CONFIG, key="num_lines")
    st.caption("Same tokens from the comma on; a gap that stays open to the end is the memory "
               "of the subject's number.")
    if not own:
        u = top[0]
        st.plotly_chart(charts.unit_lines(range(tt.T), tt.tokens,
                                          {f"unit {u}": tt.gate("h", layer)[:, u].numpy()},
                                          f"Unit {u} over your text", y_title=sym["h"]),
                        config=charts.CONFIG, key="num_own")
    last = dict(ckpt=sel.model_key, text=pl.text, t=pl.T - 1, notation=sel.notation)
    st.markdown(" · ".join(f"[step through unit {u}]({view_link('step', **last, unit=u)})"
                           for u in top))
    four = {c: st.column_config.NumberColumn(format="%.4f")  # one width: 0.8880, 0.3166
            for c in table.columns if c != "unit" and table[c].dtype.kind == "f"}
    st.dataframe(table.head(10), hide_index=True, column_config=four)


VIEW = View("number", "Number units", "Does a unit keep singular/plural across the clause?",
            render, link=dict(ckpt="agreement", text=COURSE_TEXT,
                              t=COURSE_TEXT.index(", were") + 2), uses_t=False)
