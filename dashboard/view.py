"""A view of the dashboard: one question, answered on the selected model, text, step and unit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gru_core import TextTrace

from .selection import Selection


@dataclass(frozen=True)
class View:
    key: str  # the URL's view=
    label: str  # in the sidebar
    question: str  # the forum question it answers, as its heading
    render: Callable[[Selection, TextTrace], None]
    link: dict = field(default_factory=dict)  # deep-link defaults: the page the question opens
    params: tuple[str, ...] = ()  # URL parameters of its own (they live in session_state)
    uses_t: bool = True  # False: the answer does not depend on t, so no t control is shown
