"""Step-change latency of the dashboard in a real browser, against a bare Streamlit page.

    python bench/step_latency.py [--repeats 10]

Both pages are served and driven by headless Chromium in the same run, alternating: the time
from clicking "next" to the new step's heading being shown, Streamlit having settled and the
chart showing the change (the app's step marker, the bare page's line). The first render
(navigation to a settled page, trace cached) is timed too. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from urllib.parse import urlencode

from playwright.sync_api import expect

from tests.browser import ROOT, browser, serve, settle

COURSE = "The cats, which already ate the fish, were full."


def timed(action, done) -> float:
    start = time.perf_counter()
    action()
    done()
    return time.perf_counter() - start


def app_chart(page):  # dashboard/live_chart.py's step chart, in its iframe
    return page.frame_locator(".st-key-step_chart iframe")


def bare_chart(page):
    return page.locator("[data-testid=stPlotlyChart]")


def first_render(page, url: str, heading: str, chart) -> float:
    def go():
        page.goto(url)

    def ready():
        page.get_by_role("heading", name=re.compile(re.escape(heading))).wait_for(timeout=120_000)
        chart(page).locator(".main-svg").first.wait_for(timeout=120_000)
        settle(page, 120_000)

    return timed(go, ready)


def step(page, button: str, heading: str, drawn) -> float:
    """Click, then wait for the new heading, a settled page, and the chart's drawn line (the
    step marker, or the bare page's trace) having changed."""
    line = drawn(page)
    before = line.get_attribute("d")

    def click():
        page.get_by_role("button", name=button, exact=True).click()

    def ready():
        page.get_by_role("heading", name=re.compile(re.escape(heading))).wait_for(timeout=60_000)
        settle(page)
        expect(line).not_to_have_attribute("d", before, timeout=60_000)

    return timed(click, ready)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    with serve(ROOT / "dashboard/app.py") as app, serve(ROOT / "bench/bare_page.py") as bare, \
            browser() as chrome:
        page_app, page_bare = (chrome.new_page(viewport={"width": 1400, "height": 1000})
                               for _ in range(2))
        t0 = 5
        app_url = f"{app}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": t0, "unit": 3})
        first_render(page_app, app_url, f"Step t = {t0}", app_chart)  # warm: trace cached
        first_app = first_render(page_app, app_url, f"Step t = {t0}", app_chart)
        first_bare = first_render(page_bare, bare, "Step 0", bare_chart)
        app_times, bare_times = [], []
        for i in range(1, args.repeats + 1):
            app_times.append(step(page_app, "▶", f"Step t = {t0 + i}",
                                  lambda p: app_chart(p).locator(".shapelayer path").first))
            bare_times.append(step(page_bare, "next", f"Step {i}",
                                   lambda p: bare_chart(p).locator(".scatterlayer path").first))
    a, b = statistics.median(app_times), statistics.median(bare_times)
    print(f"first render (cached trace): app {first_app:.2f} s, bare page {first_bare:.2f} s, "
          f"ratio {first_app / first_bare:.2f}x")
    print(f"step change, median of {args.repeats}: app {a * 1000:.0f} ms, bare page "
          f"{b * 1000:.0f} ms, ratio {a / b:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
