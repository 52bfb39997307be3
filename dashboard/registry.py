"""Every view of the app, in sidebar order. A new view is a file in views/ with a VIEW, listed
here; the sidebar, the URL check, the questions page and the dispatch all read this list."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from . import cache, live_chart
from .view import View
from .views import example, gradients, memory, number, reset, saturation, stepper


def _dispatched(view: View) -> View:
    """The view's render, then what the next click may need computed in the background
    (cache.ahead: the other views' numbers, View.numbers, and the gradient view's curves at
    this step). A view that does not draw the step chart removes it from the page: the chart
    drawn when the reader comes back is new, and is sent its figure at once
    (live_chart.forget_sent)."""
    def render(sel, tt) -> None:
        if not view.draws_chart:
            live_chart.forget_sent()
        view.render(sel, tt)
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
