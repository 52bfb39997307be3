"""The dashboard in a real headless Chromium: deep link, charts, next, upload, question views."""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import expect

from .browser import ROOT, chromium, serve, settle

SHOTS = ROOT / "artifacts" / "screenshots"
COURSE = "The cats, which already ate the fish, were full."


@pytest.fixture(scope="module")
def app_url():
    with serve(ROOT / "dashboard/app.py") as url:
        yield url


@pytest.fixture(scope="module")
def page():
    with chromium() as page:
        yield page


def params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def heading(page, text: str):
    return page.get_by_role("heading", name=re.compile(re.escape(text)))


LIVE = "iframe[title='dashboard.live_chart.live_chart']"


def goto(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(f"[data-testid=stPlotlyChart] .main-svg, {LIVE}", timeout=90_000)
    settle(page)


def live_chart(page, key: str = "step_chart"):
    """The chart drawn by dashboard/live_chart.py under this key, once drawn."""
    frame = page.frame_locator(f".st-key-{key} iframe")
    frame.locator(".main-svg").first.wait_for(timeout=60_000)
    return frame


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_deep_link_renders_and_next_advances(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 20,
                                           "unit": 5}))
    no_exception(page)
    chart = live_chart(page)
    assert chart.locator(".imagelayer image, .heatmaplayer image").count() == 4  # r, z, n, h
    assert chart.locator(".barlayer .point").count() > 40  # kept and new, per step
    assert live_chart(page, "pred").locator(".barlayer .point").count() == 5  # top 5
    assert heading(page, "Step t = 20, unit 5").count() == 1
    assert page.locator(".katex .mord").count() >= 40  # the equations were typeset
    shot(page, "step-t20-unit5")
    marker = chart.locator(".shapelayer path").first
    before = marker.get_attribute("d")
    page.get_by_role("button", name="▶", exact=True).click()
    heading(page, "Step t = 21, unit 5").wait_for(timeout=30_000)
    settle(page)
    assert params(page)["t"] == "21"
    expect(marker).not_to_have_attribute("d", before)  # the step line moved, one column right
    no_exception(page)
    shot(page, "step-t21-unit5")


def test_clicking_a_heatmap_cell_selects_step_and_unit(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 20,
                                           "unit": 5}))
    page.locator(".st-key-step_chart iframe").scroll_into_view_if_needed()
    heat = live_chart(page).locator(".draglayer .xy3 .nsewdrag")  # the r heatmap
    box = heat.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.5)
    page.wait_for_function("() => !location.search.includes('t=20&')", timeout=30_000)
    settle(page)
    p = params(page)  # a cell near the left edge, half-way up the 128 units
    assert int(p["t"]) < 10 and 40 < int(p["unit"]) < 90
    assert heading(page, f"Step t = {p['t']}, unit {p['unit']}").count() == 1
    no_exception(page)


def test_bad_link_and_broken_upload_give_messages(app_url, page, tmp_path):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": "abc",
                                           "unit": 9999}))
    no_exception(page)
    assert page.get_by_text("is not a whole number").count() == 1
    assert page.get_by_text("unit=9999 is outside 0..127").count() == 1
    shot(page, "bad-link-notices")
    page.locator(".st-key-ckpt").click()
    page.get_by_role("option", name="upload your own…").click()
    settle(page)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("This file cannot be used").wait_for(timeout=30_000)
    no_exception(page)
    shot(page, "broken-upload")


@pytest.mark.parametrize("view", ["saturation", "memory", "gradients", "reset", "number"])
def test_question_views_render(app_url, page, view):
    from dashboard.questions import GUIDED

    goto(page, f"{app_url}/?" + urlencode({"view": view, **GUIDED[view][1]}))
    no_exception(page)
    assert page.locator("[data-testid=stPlotlyChart] .main-svg").count() >= 1
    shot(page, f"question-{view}")


def test_step_chart_comes_back_after_another_view(app_url, page):
    """A new chart frame has no figure: it asks for one, and gets it on the next rerun."""
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 20,
                                           "unit": 5}))
    live_chart(page)
    page.locator(".st-key-view").get_by_text("Questions", exact=True).click()
    page.wait_for_function("() => location.search.includes('view=questions')", timeout=30_000)
    settle(page)
    assert page.locator(".st-key-step_chart iframe").count() == 0
    page.locator(".st-key-view").get_by_text("Stepper", exact=True).click()
    heading(page, "Step t = 20, unit 5").wait_for(timeout=30_000)
    settle(page)
    chart = live_chart(page)  # drawn again, same data as before
    assert chart.locator(".imagelayer image, .heatmaplayer image").count() == 4
    no_exception(page)
