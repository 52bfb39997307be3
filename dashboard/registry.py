"""Every view of the app, in sidebar order. A new view is a file in views/ with a VIEW, listed
here; the sidebar, the URL check, the questions page and the dispatch all read this list."""

from __future__ import annotations

from .view import View
from .views import example, gradients, memory, number, reset, saturation, stepper

VIEWS: dict[str, View] = {v.key: v for v in (
    stepper.VIEW, saturation.VIEW, memory.VIEW, gradients.VIEW, reset.VIEW, number.VIEW,
    example.VIEW)}
QUESTIONS = "questions"  # the index page: every question, linked to its view
LABELS = {**{k: v.label for k, v in VIEWS.items()}, QUESTIONS: "Questions"}
