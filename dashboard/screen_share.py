"""The screen-share layout: the step card and the selected unit's chart side by side, both on
a 1280×720 screen (issue 21). The stepper draws its card through `card_and_chart`; the full
chart with the heatmaps and the player stays below, as in the ordinary layout."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from gru_core import TextTrace, balance

from . import charts
from .selection import Selection

HEIGHT = 330  # px: the unit's chart beside a card of five equations, under 720 together


def toggle() -> bool:
    return st.toggle("Screen-share layout: the card beside this unit's chart (fits 1280×720)",
                     key="compact")


def card_and_chart(sel: Selection, tt: TextTrace, steps: slice, card: Callable[[str], None]
                   ) -> None:
    """card() in the left column, the unit's kept/new/h/z chart over `steps` in the right."""
    left, right = st.columns([3, 2])
    with left, st.container(key="card"):
        card(r"\footnotesize")  # the equations' numbers fit the narrower column
    with right:
        df = balance(tt, sel.unit, sel.layer, sel.direction, steps)
        st.plotly_chart(charts.unit_chart(df, sel.t, sel.unit, sel.sym, HEIGHT),
                        config=charts.CONFIG,
                        key="unit_chart")

