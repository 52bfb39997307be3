"""In practice, do gates go to 0 and 1, or stay grey?"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
import streamlit as st

from gru_core import (
    HIGH,
    LOW,
    TextTrace,
    count_of,
    exact_claim,
    exact_counts,
    fractions,
    histogram,
    saturation,
    saturation_answer,
    saturation_claim,
    shares,
)

from .. import cache, charts
from ..selection import Selection
from ..view import View
from .texts import HAMLET


def gates(notation: str) -> tuple[str, str]:
    """The gates as the notation defines them: r and z, or Γr and Γu = 1 − z."""
    return ("r", "u") if notation == "course" else ("r", "z")


class Numbers(NamedTuple):
    """What the view draws, per gate shown: the shares near 0, grey and near 1, the exact
    0/1 counts, the histogram, and the per-unit table of the selected layer."""

    f: dict
    exact: dict
    hists: dict
    units: pd.DataFrame


def numbers(sel: Selection, tt: TextTrace) -> Numbers:
    """The view's numbers for (model, text, start, layer, the gates the notation shows): the
    same whether computed by the view or ahead of its click (cache.analysis)."""
    shown = gates(sel.notation)

    def compute() -> Numbers:
        df = saturation(tt, LOW, HIGH, shown)
        return Numbers({g: fractions(tt, g, sel.layer, LOW, HIGH) for g in shown},
                       {g: exact_counts(tt, g, sel.layer) for g in shown},
                       {g: histogram(tt, g, sel.layer) for g in shown},
                       df[df.layer == sel.layer])

    return cache.analysis(("saturation", sel.model_key, tt.text, sel.start, sel.layer, shown),
                          compute)


def render(sel: Selection, tt: TextTrace) -> None:
    sym = sel.sym
    shown = gates(sel.notation)
    f, exact, hists, units = numbers(sel, tt)
    where = f"in layer {sel.layer}" if tt.config.num_layers > 1 else ""
    st.markdown(saturation_answer([(sym[g], f[g], exact[g]) for g in shown], where).text)
    st.caption(f"Over all {count_of(tt.T, 'step')} of this text (the answer does not depend on "
               f"t), layer {sel.layer}, {count_of(tt.config.hidden_size, 'unit')}"
               + (f"; {sym['u']} = 1 − z, where z is PyTorch's update gate." if
                  sel.notation == "course" else "."))
    cols = st.columns(2)
    for col, gate in zip(cols, shown, strict=True):
        below, above, between = shares([f[gate][k] for k in ("below", "above", "between")], 1)
        col.metric(f"{sym[gate]} near 0 (< {LOW})", below)
        col.metric(f"{sym[gate]} grey ({LOW}–{HIGH})", between)
        col.metric(f"{sym[gate]} near 1 (> {HIGH})", above)
        col.markdown(saturation_claim(sym[gate], f[gate]).text)
        col.markdown(exact_claim(sym[gate], exact[gate]).text)
    st.plotly_chart(charts.saturation_histogram({sym[g]: hists[g] for g in shown}, LOW, HIGH),
                    config=charts.CONFIG, key="sat_hist")
    st.caption(f"Dashed lines at {LOW} and {HIGH}: outside them a value is near 0 or 1, between "
               "them grey. Mass piled at the edges means saturated gates; a hump in the middle "
               "means grey.")
    st.plotly_chart(charts.saturation_scatter(units, sym, LOW, HIGH),
                    config=charts.CONFIG, key="sat_scatter")
    st.caption(f"Each dot is a unit (Karpathy, Johnson & Fei-Fei 2015): across, the share of "
               f"steps where its gate is below {LOW}; up, the share where it is above {HIGH}. "
               f"Top left: almost always near 1; bottom right: almost always near 0; near the "
               f"origin: grey. The two shares add up to at most 1, so every dot lies on or under "
               f"the dotted diagonal; on it, a unit is never grey ({LOW}–{HIGH}), and the "
               "farther under it, the larger its share of grey steps.")


VIEW = View("saturation", "Do gates go to 0/1?",
            "In practice, do gates go to 0 and 1, or stay grey?", render,
            link=dict(ckpt="shakespeare", text=HAMLET, unit=0), uses_t=False, numbers=numbers)
