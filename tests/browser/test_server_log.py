"""Every view, opened in Chromium, leaves no Streamlit deprecation warning in the server's log:
the app is on Streamlit's current API (a deprecated call warns there, once per process)."""

import re

import pytest

from dashboard.registry import QUESTIONS, VIEWS
from dashboard.selection import view_link

from ..browser import settle

WARNS = re.compile(r"deprecat|will be removed|please replace", re.I)


@pytest.mark.chromium
def test_no_view_makes_streamlit_warn_of_a_deprecation(app_url, page):
    links = [view_link(key, **view.link) for key, view in VIEWS.items()]
    for link in [*links, view_link(QUESTIONS)]:
        page.goto(f"{app_url}/{link}")
        settle(page, timeout=120_000)
        assert page.get_by_test_id("stException").count() == 0, link
        if "view=step" in link:  # the stepper drew its chart (a component of its own)
            page.locator(".st-key-step_chart .main-svg").first.wait_for(timeout=60_000)
        export = page.get_by_text("Copy as forum post, or download the numbers")
        if export.count():  # the copy button is drawn only once the export is open
            export.first.click()
            settle(page)
            assert page.locator("button.copy").count() == 1, link
    log = app_url.log.read_text(errors="replace")
    assert "Uvicorn server started" in log or "You can now view" in log
    assert not WARNS.findall(log), "\n".join(line for line in log.splitlines()
                                            if WARNS.search(line))
