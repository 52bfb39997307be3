"""The stepper's controls beside the card: go to a step, add this t and unit to the worked
example and open it, and the chart as an offline copy with its player."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from gru_core import MAX_STEPS, TextTrace, balance, heatmaps

from ... import cache, charts, offline
from ...selection import Selection, format_list, parse_list


def add_button(sel: Selection, tt: TextTrace) -> None:
    """On the stepper: add this t and unit to the worked example, and open it; and the chart
    as an offline copy."""
    box, a, b, c = st.columns([2, 2, 2, 4], vertical_alignment="bottom")
    st.session_state["t_box"] = sel.t  # follows the slider, ◀ ▶ and the player
    box.number_input(f"Go to t (0–{tt.T - 1})", 0, tt.T - 1, step=1, key="t_box",
                     on_change=_go_to)
    a.button("Add to the example", key="ex_add", on_click=_add, args=(sel.t, sel.unit),
             help="adds this step and this unit to the worked example (steps × units)")
    b.button("Open the example", key="ex_open", on_click=_open)
    steps, units = st.session_state.get("steps"), st.session_state.get("units")
    if steps and units:
        c.caption(f"Worked example: steps {steps} × units {units}")
    st.download_button("Offline copy of the chart with its player (HTML, no server needed)",
                       key="chart_html", mime="text/html", file_name=f"gru_chart_u{sel.unit}.html",
                       data=cache.later(sel, lambda tt: stepper_html(sel, tt)))
    if st.session_state.pop("_open_example", False):
        st.rerun(scope="app")  # the sidebar's view radio moves with it


def stepper_html(sel: Selection, tt: TextTrace) -> str:
    """The stepper's chart around t (its window of steps), with a player that runs offline."""
    from . import window  # the same steps the page's chart holds

    w, unit, sym = window(sel.t, tt.T), sel.unit, sel.sym
    df = balance(tt, unit, sel.layer, sel.direction, w)
    mats = heatmaps(tt, sel.layer, sel.direction, w)
    spec = charts.step_chart(df, mats, sel.t, unit, sym)
    fig = go.Figure(data=spec["data"], layout=spec["layout"])
    steps = df.t.tolist()
    fig = offline.player_figure(fig, steps, lambda t: charts.step_markers(t, unit, tuple(mats)),
                                start=sel.t)
    return offline.chart_html(fig, f"GRU stepper: unit {unit}, t = {steps[0]}..{steps[-1]}",
                              f"Model {sel.model.name}, layer {sel.layer}. ▶ play runs the "
                              "steps; the slider picks one.", start=sel.t)


def _go_to() -> None:
    st.session_state["t"] = int(st.session_state["t_box"])
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
