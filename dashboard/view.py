"""A view of the dashboard: one question, answered on the selected model, text, step and unit.
A view declares what it needs from the page (its URL parameters, the step chart, work done
ahead, its own numbers to compute ahead); app.py and registry.py read these fields and never
test a view's key."""

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
    from_url: tuple[Callable[[], None], ...] = ()  # once per session, after the common ones:
    # read (and check) its own URL parameters into session_state
    uses_t: bool = True  # False: the answer does not depend on t, so no t control is shown
    heading: bool = True  # False: the view titles itself (the stepper's card heading)
    draws_chart: bool = False  # True: it draws the step chart (live_chart), which takes ← and
    # →; any other view removes it (registry.py)
    ahead: bool = True  # after it is drawn, the gradient curves are computed ahead (cache.ahead);
    # False for a view that has just computed them itself
    numbers: Callable[[Selection, TextTrace], object] | None = None  # its analyses, through
    # cache.analysis: computed ahead, in the background, after another view is drawn, so the
    # click that opens it finds them (registry.py)
