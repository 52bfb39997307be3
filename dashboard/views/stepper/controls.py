"""The stepper's controls beside the card: go to a step, add this t and unit to the worked
example and open it, and the chart as an offline copy with its player."""

from __future__ import annotations

import streamlit as st

from gru_core import MAX_STEPS, TextTrace

from ... import cache, offline
from ...selection import Selection, format_list, parse_list


def add_button(sel: Selection, tt: TextTrace) -> None:
    """On the stepper: add this t and unit to the worked example, and open it; and the chart
    as an offline copy."""
    # one row under the card and the prediction, each label whole at 1280 px wide
    box, a, b, c = st.columns([1.1, 1.4, 1.4, 2.2], vertical_alignment="bottom")
    # one box per step, keyed by it: a browser that a rerun has not reached yet sends the box
    # of an older step back with its next rerun, which must not take the page back there
    key = f"t_box_{sel.t}"
    box.number_input(f"Go to t (0–{tt.T - 1})", 0, tt.T - 1, sel.t, step=1, key=key,
                     on_change=_go_to, args=(key, sel.t))
    a.button("Add to the example", key="ex_add", on_click=_add, args=(sel.t, sel.unit),
             help="adds this step and this unit to the worked example (steps × units)",
             width="stretch")
    b.button("Open the example", key="ex_open", on_click=_open, width="stretch")
    c.download_button("Offline copy of the chart", key="chart_html", mime="text/html",
                      file_name=f"gru_chart_u{sel.unit}.html",
                      data=cache.later(sel, lambda tt: stepper_html(sel, tt)), width="stretch",
                      help="the chart and its player as one HTML file: it runs with no server")
    steps, units = st.session_state.get("steps"), st.session_state.get("units")
    if steps and units:
        st.caption(f"Worked example: steps {steps} × units {units}")
    if st.session_state.pop("_open_example", False):
        st.rerun(scope="app")  # the sidebar's view radio moves with it


def stepper_html(sel: Selection, tt: TextTrace) -> str:
    """The stepper's chart over the text's steps, with a player that runs offline."""
    return offline.stepper_html(tt, sel.t, sel.unit, sel.layer, sel.direction, sel.sym,
                                sel.model.name)


def _go_to(key: str, shown: int) -> None:
    """The reader's entry in the box of step `shown`, if the page is still at that step."""
    if st.session_state.get("t") != shown:
        return
    st.session_state["t"] = int(st.session_state[key])
    st.session_state["playing"] = False


def _add(t: int, unit: int) -> None:
    for key, v in (("steps", t), ("units", unit)):
        values = parse_list(key, st.session_state.get(key) or "")
        if v not in values:
            values = ([*values, v] if len(values) < MAX_STEPS else values)
        st.session_state[key] = format_list(values)


def _open() -> None:
    st.session_state["view"] = "example"
    st.session_state["_open_example"] = True
