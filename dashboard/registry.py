"""Every view of the app, in sidebar order. A new view is a file in views/ with a VIEW, listed
here; the sidebar, the URL check, the questions page and the dispatch all read this list."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import streamlit as st

from . import cache, live_chart
from .view import View
from .views import example, gradients, memory, number, reset, saturation, stepper


def _dispatched(view: View) -> View:
    """The view's render, then what the next click may need computed in the background
    (cache.ahead: the other views' numbers, View.numbers, and the gradient view's curves at
    this step). A view that does not draw the
    step chart draws in one block, followed by the chart's frame kept mounted and hidden
    (live_chart.keep_mounted): the way back to the stepper redraws nothing. The stepper draws
    the same way round (one block, the chart, then the rest: stepper.render), so the frame
    keeps its place from view to view."""
    def render(sel, tt) -> None:
        if view.draws_chart:
            view.render(sel, tt)
        else:
            with st.container():  # one element: the frame after it keeps its place
                view.render(sel, tt)
            live_chart.keep_mounted(stepper.CHART)
        if view.ahead and sel.start is None:  # ahead keys runs from zeros
            since = max(0, sel.t - gradients.MAX_JACOBIAN_SPAN)
            cache.ahead(sel.model_key, sel.model, tt, sel.t, sel.layer, since, tuple(
                partial(other.numbers, sel) for other in VIEWS.values()
                if other.numbers is not None and other.key != view.key))

    return replace(view, render=render)


VIEWS: dict[str, View] = {v.key: _dispatched(v) for v in (
    stepper.VIEW, saturation.VIEW, memory.VIEW, gradients.VIEW, reset.VIEW, number.VIEW,
    example.VIEW)}
QUESTIONS = "questions"  # the index page: every question, linked to its view
LABELS = {**{k: v.label for k, v in VIEWS.items()}, QUESTIONS: "Questions"}
