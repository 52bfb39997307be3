"""In practice, do gates go to 0 and 1, or stay grey?"""

from __future__ import annotations

import streamlit as st

from gru_core import TextTrace, count_of, describe, fractions, histogram, saturation

from .. import charts
from ..selection import Selection
from ..view import View
from .texts import HAMLET

LOW, HIGH = 0.1, 0.9


def render(sel: Selection, tt: TextTrace) -> None:
    sym = sel.sym
    st.markdown(f"Over {count_of(tt.T, 'step')} of this text, layer {sel.layer}, "
                f"{count_of(tt.config.hidden_size, 'unit')}:")
    cols = st.columns(2)
    for col, gate in zip(cols, ("r", "z"), strict=True):
        f = fractions(tt, gate, sel.layer, LOW, HIGH)
        col.metric(f"{sym[gate]} near 0 (< {LOW})", f"{f['below']:.1%}")
        col.metric(f"{sym[gate]} grey ({LOW}–{HIGH})", f"{f['between']:.1%}")
        col.metric(f"{sym[gate]} near 1 (> {HIGH})", f"{f['above']:.1%}")
        col.markdown(describe(sym[gate], f, LOW, HIGH))
    hists = {sym[g]: histogram(tt, g, sel.layer) for g in ("r", "z")}
    st.plotly_chart(charts.saturation_histogram(hists, LOW, HIGH), config=charts.CONFIG,
                    key="sat_hist")
    st.caption("Mass piled at the edges means saturated gates; a hump in the middle means grey.")
    df = saturation(tt, LOW, HIGH)
    st.plotly_chart(charts.saturation_scatter(df[df.layer == sel.layer], sym),
                    config=charts.CONFIG, key="sat_scatter")
    st.caption("Each dot is a unit (Karpathy, Johnson & Fei-Fei 2015). Top left: almost always "
               "near 1; bottom right: almost always near 0; near the origin: grey.")


VIEW = View("saturation", "Do gates go to 0/1?",
            "In practice, do gates go to 0 and 1, or stay grey?", render,
            link=dict(ckpt="shakespeare", text=HAMLET, t=100, unit=0))
