"""The screen-share layout: the step card and the selected unit's chart side by side, both on
a 1280×720 screen (issue 21). The stepper draws its card through `card_and_chart`; the full
chart with the heatmaps and the player stays below, as in the ordinary layout."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from gru_core import TextTrace, balance

from ... import charts
from ...selection import Selection, first_time, notice

HEIGHT = 400  # px: the unit's chart beside a card of five equations, under 720 together


def init_from_url() -> None:
    """Once per session: layout=compact in a link opens the screen-share layout."""
    if not first_time("_layout_initialised"):
        return
    raw = st.query_params.get("layout")
    if raw is not None and raw != "compact":
        notice("layout can only be compact (the screen-share layout); showing the usual one.")
    st.session_state["compact"] = raw == "compact"
    _follow()


def on() -> bool:
    """Whether the layout is on (the sidebar's toggle)."""
    return bool(st.session_state.get("compact", False))


def toggle() -> None:
    """In the sidebar, on the stepper: the page's first screen stays the card and the cell."""
    st.toggle("Screen-share layout", key="compact", on_change=_follow,
              help="the card beside this unit's chart, the two in one 1280×720 view")


def _follow() -> None:
    """The URL's layout= follows the toggle (the stepper's View.params)."""
    st.session_state["layout"] = "compact" if st.session_state.get("compact") else None


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

