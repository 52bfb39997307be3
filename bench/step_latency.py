"""Step-change latency, view switches and link opening of the dashboard in a real browser,
against bare Streamlit pages: bench/bare_page.py (one Plotly chart and a "next" button) for the
step change, bench/bare_views.py (a sidebar switching views of two Plotly charts) for the rest.

    python -m bench.step_latency [--repeats 10] [--rounds 3] [--starts 2] [--only fresh]

--only fresh runs the fresh-browser switches and the link reopens alone (a short run).

Both pages are served and driven by headless Chromium in the same run, alternating:
- view switches (--rounds rounds, each on a text of its own, so nothing of it is cached yet;
  a reader's THINK seconds before each click, on both pages): from the stepper, the first visit
  of every view, back to the stepper, then every view's second visit; from the click in the
  sidebar to the view's heading, a settled page and every chart drawn;
- link reopen: a deep link at another t opened in the same tab (--rounds times);
- fresh-browser switch: a deep link on a text nobody opened yet, in a fresh context, READ
  seconds of reading, then a switch to one of FRESH_VIEWS (the bare page: its first switch);
- link reopen at another step: a deep link opened, THINK seconds, the same link at another t
  in the same tab (on a text of its own, so the server has only what the first open left);
- first open after server start: a fresh server, and at once a deep link in a fresh context
  (--starts times; the bare page's server likewise);
- cold open: a deep link opened in a fresh browser context (empty HTTP cache, as a forum
  reader's first click), until the heading, every chart and a settled page are shown (the
  trace is cached on the server: this is what the page itself costs);
- step change: from clicking "next" to the new step's heading, Streamlit having settled and
  the chart showing the change (the app's step marker, the bare page's line);
- step change, browser-side: from the → key's event to the frame that shows the next step's
  card, which the browser holds (the page's own clock), against the bare page's rerun above;
- playback: the chart's player at 20 steps/s, drawing the step line and the card line of each
  step in the browser, against stepping with the ▶ button's round trip.
Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import expect

from dashboard.registry import VIEWS
from tests.browser import ROOT, browser, serve, settle

HAS_WARM = (ROOT / "dashboard/warm.py").is_file()  # not in the tree the figures before it

COURSE = "The cats, which already ate the fish, were full."


def timed(action, done) -> float:
    start = time.perf_counter()
    action()
    done()
    return time.perf_counter() - start


def app_chart(page):  # dashboard/live_chart.py's step chart, in the page
    return page.locator(".st-key-step_chart")


def step_line(page):  # the step chart's line at step t (the chart's first shape)
    return app_chart(page).locator(".gl-plot .shapelayer path").first


def bare_chart(page):
    return page.locator("[data-testid=stPlotlyChart]")


def app_cell(page):  # the cell beside the card (live_chart.live_cell)
    return page.locator(".st-key-step_cell")


def prediction_table(page):  # has no .main-svg: its rows, drawn by the browser
    return page.locator(".gru-pred tbody tr")


APP_CHARTS = [app_chart, app_cell]


def first_render(page, url: str, heading: str, chart) -> float:
    def go():
        page.goto(url)

    def ready():
        page.get_by_role("heading", name=re.compile(re.escape(heading))).wait_for(timeout=120_000)
        chart(page).locator(".main-svg").first.wait_for(timeout=120_000)
        settle(page, 120_000)

    return timed(go, ready)


def cold_open(chrome, url: str, heading: str, charts: list) -> float:
    """A deep link in a fresh context: nothing cached in the browser."""
    context = chrome.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()

    def ready():
        page.get_by_role("heading", name=re.compile(re.escape(heading))).wait_for(timeout=120_000)
        for chart in charts:
            expect(chart(page).locator(".main-svg").first).to_be_attached(timeout=120_000)
        if charts is APP_CHARTS:
            expect(prediction_table(page).first).to_be_visible(timeout=120_000)
        settle(page, 120_000)

    try:
        return timed(lambda: page.goto(url), ready)
    finally:
        context.close()


def step(page, button: str, heading: str, drawn) -> float:
    """Click, then wait for the new heading, a settled page, and the chart's drawn line (the
    step marker, or the bare page's trace) having changed."""
    line = drawn(page)
    before = line.get_attribute("d")

    def click():
        page.locator(f".st-key-{button} button").first.click()

    def ready():
        page.get_by_role("heading", name=re.compile(re.escape(heading))).wait_for(timeout=60_000)
        settle(page)
        expect(line).not_to_have_attribute("d", before, timeout=60_000)

    return timed(click, ready)


CARD_CHANGE = """() => {
  window.keyAt = undefined;
  window.cardChangedAt = undefined;
  addEventListener('keydown', (e) => { window.keyAt = e.timeStamp; }, {capture: true, once: true});
  const ob = new MutationObserver(() => {
    ob.disconnect();
    requestAnimationFrame(() => { window.cardChangedAt = performance.now(); });  // its frame
  });
  ob.observe(document.querySelector('.st-key-step_cards .gru-card'), {childList: true});
}"""


def browser_step(page) -> float:
    """→ pressed, until the browser shows the next step's card (the frame that draws it), by
    the page's own clock from the key event; then the server's rerun is waited for."""
    page.evaluate(CARD_CHANGE)
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.cardChangedAt !== undefined", timeout=60_000)
    seconds = page.evaluate("() => window.cardChangedAt - window.keyAt") / 1000
    page.wait_for_function("() => !document.querySelector('.gru-card-copy')", timeout=60_000)
    settle(page)
    return seconds


def playback(page, url: str, seconds: float = 5.0) -> tuple[float, float]:
    """Steps per second the player draws, asked for 20, on a text long enough to play for
    `seconds`: over the whole run, window changes (a round trip and a redraw of the heatmaps)
    included; and between two steps of a window."""
    page.goto(url)
    chart = app_chart(page)
    expect(chart.locator(".main-svg").first).to_be_attached(timeout=120_000)
    settle(page)
    chart.locator(".gl-speed").select_option("20")
    page.evaluate("() => { window.stepLog = []; }")
    chart.locator(".gl-play").click()
    page.wait_for_timeout(seconds * 1000)
    chart.locator(".gl-play").click()
    log = page.evaluate("() => window.stepLog")
    steps = [(a, b) for a, b in zip(log, log[1:], strict=False) if b["t"] == a["t"] + 1]
    # within a window the line moves right; at a window's end the next one is fetched and the
    # same step may be drawn again at its new place: counted in the time, not as a step
    assert all(b["x"] != a["x"] for a, b in steps if b["at"] - a["at"] < 500)
    overall = len(steps) / ((log[-1]["at"] - log[0]["at"]) / 1000)
    return overall, 1000 / statistics.median(b["at"] - a["at"] for a, b in steps)


SUBJECTS = ("cats", "dogs", "birds", "girls", "boys", "kings", "foxes", "lions", "wolves")
OBJECTS = ("fish", "meat", "bread", "cake", "corn", "rice", "soup", "plums", "grapes")
THINK = 1.0  # seconds a reader looks at a page before the next click (both pages alike)
# sidebar label -> heading; the stepper's heading names the step (checked by its own regex)
APP_VIEWS = {v.label: v.question for k, v in VIEWS.items() if k not in ("step", "example")}
BARE_VIEWS = {"two": "View two", "three": "View three"}


def round_text(i: int) -> str:
    return COURSE.replace("cats", SUBJECTS[i % len(SUBJECTS)])


def fresh_text(i: int) -> str:
    """A text of its own for the i-th fresh measurement of a run, none of round_text's."""
    return round_text(i).replace("fish", OBJECTS[1 + i // len(SUBJECTS) % (len(OBJECTS) - 1)])


def charts_drawn(page, timeout: float = 120_000) -> None:
    """Every Plotly chart on the page drawn: st.plotly_chart's and the stepper's live chart."""
    plots = page.locator("[data-testid=stPlotlyChart]")
    for i in range(plots.count()):
        expect(plots.nth(i).locator(".main-svg").first).to_be_attached(timeout=timeout)
    if page.locator(".st-key-step_chart").count():
        expect(app_chart(page).locator(".main-svg").first).to_be_attached(timeout=timeout)


def switch(page, label: str, heading: str) -> float:
    """A reader's pause, then a click on the sidebar's view until the view is drawn."""
    page.wait_for_timeout(THINK * 1000)

    def click():
        page.locator(".st-key-view").get_by_text(label, exact=True).click()

    def ready():
        page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
        settle(page, 120_000)
        charts_drawn(page)

    return timed(click, ready)


def reopen(page, url: str, heading: str) -> float:
    """A deep link opened again in the same tab (the browser has the page's assets)."""
    def ready():
        page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
        settle(page, 120_000)
        charts_drawn(page)

    return timed(lambda: page.goto(url), ready)


READ = 3.0  # seconds a reader spends on the first page before the first view switch


@contextlib.contextmanager
def fresh_page(chrome, url: str, ready, read: float):
    """A page in a fresh context (empty cache, nothing of Streamlit's element code loaded
    yet) that opened `url` and was read `read` seconds; the context closed after."""
    context = chrome.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url)
        ready(page)
        settle(page, 120_000)
        page.wait_for_timeout(read * 1000)
        yield page
    finally:
        context.close()


def first_chart_view(chrome, url: str, ready, label: str, heading: str) -> float:
    """Open `url` in a fresh context, read READ seconds, switch to the view `label`."""
    with fresh_page(chrome, url, ready, READ - THINK) as page:  # switch() waits THINK more
        return switch(page, label, heading)


def app_link(app: str, text: str, t: int) -> str:
    return f"{app}/?" + urlencode({"ckpt": "agreement", "text": text, "t": t, "unit": 3})


def view_rounds(chrome, app: str, bare: str, rounds: int) -> dict[str, tuple[list, list]]:
    """{measurement: (app seconds, bare seconds)} over `rounds` rounds, alternating pages."""
    out: dict[str, tuple[list, list]] = {}

    def add(name: str, a: float, b: float) -> None:
        out.setdefault(name, ([], []))
        out[name][0].append(a)
        out[name][1].append(b)

    page_app, page_bare = (chrome.new_page(viewport={"width": 1400, "height": 1000})
                           for _ in range(2))
    bare_labels = list(BARE_VIEWS.items())
    for r in range(rounds):
        t0 = 5 + r
        first_render(page_app, app_link(app, round_text(r), t0), f"Step t = {t0}", app_chart)
        first_render(page_bare, f"{bare}/?t={t0}", f"View one at t = {t0}", bare_chart)
        for visit in ("first", "second"):
            for i, (label, heading) in enumerate(APP_VIEWS.items()):
                b_label, b_heading = bare_labels[i % 2]
                add(f"{visit} visit: {label}", switch(page_app, label, heading),
                    switch(page_bare, b_label, b_heading))
            add(f"{visit} visit: back to the stepper",
                switch(page_app, "Stepper", f"Step t = {t0}"),
                switch(page_bare, "one", "View one"))
        t1 = t0 + 7
        page_app.wait_for_timeout(THINK * 1000)
        add("link reopened at another t, same tab",
            reopen(page_app, app_link(app, round_text(r), t1), f"Step t = {t1}"),
            reopen(page_bare, f"{bare}/?t={t1}", f"View one at t = {t1}"))
    page_app.close()
    page_bare.close()
    return out


FRESH_VIEWS = ("saturation", "memory", "example")  # the question views of the rows


def fresh_rounds(chrome, app: str, bare: str, rounds: int, first: int = 0
                 ) -> dict[str, tuple[list, list]]:
    """{measurement: (app seconds, bare seconds)}: per round, a fresh browser's switch to each
    of FRESH_VIEWS READ seconds after opening a link, then a link reopened at another t in the
    same tab; every app measurement on a text of its own (fresh_text from `first` on)."""
    out: dict[str, tuple[list, list]] = {}
    texts = iter(range(first, first + rounds * (len(FRESH_VIEWS) + 1)))

    def add(name: str, a: float, b: float) -> None:
        out.setdefault(name, ([], []))
        out[name][0].append(a)
        out[name][1].append(b)

    def app_ready(p):
        app_chart(p).locator(".main-svg").first.wait_for(timeout=120_000)

    def bare_ready(p):
        bare_chart(p).locator(".main-svg").first.wait_for(timeout=120_000)

    for _ in range(rounds):
        for key in FRESH_VIEWS:
            view = VIEWS[key]
            add(f"fresh browser, {READ:.0f} s after a link, switch to: {view.label}",
                first_chart_view(chrome, app_link(app, fresh_text(next(texts)), 5), app_ready,
                                 view.label, view.question),
                first_chart_view(chrome, f"{bare}/?t=5", bare_ready, "two", "View two"))
        text = fresh_text(next(texts))
        tabs = [chrome.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
        first_render(tabs[0], app_link(app, text, 5), "Step t = 5", app_chart)
        first_render(tabs[1], f"{bare}/?t=5", "View one at t = 5", bare_chart)
        times = []
        for tab, url, heading in ((tabs[0], app_link(app, text, 12), "Step t = 12"),
                                  (tabs[1], f"{bare}/?t=12", "View one at t = 12")):
            tab.wait_for_timeout(THINK * 1000)
            times.append(reopen(tab, url, heading))
        add("a link reopened at another step, same tab (a text of its own)", *times)
        for tab in tabs:
            tab.close()
    return out


def after_start(chrome, script: Path, url: str, heading: str, charts: list,
                warmed: bool = False) -> float:
    """A fresh server's first visitor, in a fresh context: at once, or (warmed) once
    dashboard/warm.py has opened the question links, as the Dockerfile and deploy/run.sh
    start it."""
    with serve(script, timeout=180) as server:
        if warmed:  # as the Dockerfile runs it: its own process, beside the server
            subprocess.run([sys.executable, "-m", "dashboard.warm", server], cwd=ROOT,
                           check=True, timeout=600)
        return cold_open(chrome, server + url, heading, charts)


def ratio_line(name: str, a: list[float], b: list[float]) -> str:
    ma, mb = statistics.median(a), statistics.median(b)
    return f"| {name} | {ma:.2f} s | {mb:.2f} s | {ma / mb:.2f}x | {len(a)} |"


def print_rows(rows: dict[str, tuple[list, list]]) -> None:
    print(f"view switches and reopens, medians (a reader's {THINK:.0f} s before each click):")
    print("| measurement | app | bare page | ratio | n |\n|---|---|---|---|---|")
    for name, (a, b) in rows.items():
        print(ratio_line(name, a, b))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=10, help="cold opens and step changes")
    p.add_argument("--rounds", type=int, default=3, help="view-switch rounds and link reopens")
    p.add_argument("--starts", type=int, default=2, help="server starts, each page")
    p.add_argument("--only", choices=("fresh", "steps"), help="fresh: only the fresh-browser "
                   "switches and the link reopens; steps: only the step change, cold open and "
                   "playback rows")
    args = p.parse_args()
    if args.only == "fresh":
        with serve(ROOT / "dashboard/app.py") as app, \
                serve(ROOT / "bench/bare_views.py") as views, browser() as chrome:
            print_rows(fresh_rounds(chrome, app, views, args.rounds))
        return
    if args.only is None:
        views_and_starts(args)
    steps_and_playback(args)


def views_and_starts(args) -> None:
    with browser() as chrome:
        started, warmed = [], []
        link = "/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 5, "unit": 3})
        for _ in range(args.starts):
            started.append((
                after_start(chrome, ROOT / "dashboard/app.py", link, "Step t = 5", APP_CHARTS),
                after_start(chrome, ROOT / "bench/bare_views.py", "/?t=5", "View one",
                            [bare_chart])))
            if HAS_WARM:
                warmed.append(after_start(chrome, ROOT / "dashboard/app.py", link,
                                          "Step t = 5", APP_CHARTS, warmed=True))
    with serve(ROOT / "dashboard/app.py") as app, serve(ROOT / "bench/bare_views.py") as views, \
            browser() as chrome:
        switched = view_rounds(chrome, app, views, args.rounds)
        switched.update(fresh_rounds(chrome, app, views, args.rounds, first=args.rounds))
    print_rows(switched)
    print(ratio_line("first open after the server starts", [a for a, _ in started],
                     [b for _, b in started]))
    if warmed:
        print(ratio_line("the same, the server warmed by dashboard/warm.py", warmed,
                         [b for _, b in started]))


def steps_and_playback(args) -> None:
    with serve(ROOT / "dashboard/app.py") as app, serve(ROOT / "bench/bare_page.py") as bare, \
            browser() as chrome:
        page_app, page_bare = (chrome.new_page(viewport={"width": 1400, "height": 1000})
                               for _ in range(2))
        t0 = 5
        app_url = f"{app}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": t0, "unit": 3})
        first_render(page_app, app_url, f"Step t = {t0}", app_chart)  # warm: trace cached
        first_app = first_render(page_app, app_url, f"Step t = {t0}", app_chart)
        first_bare = first_render(page_bare, bare, "Step 0", bare_chart)
        cold_app, cold_bare = [], []
        for _ in range(args.repeats):
            cold_app.append(cold_open(chrome, app_url, f"Step t = {t0}", APP_CHARTS))
            cold_bare.append(cold_open(chrome, bare, "Step 0", [bare_chart]))
        app_times, bare_times = [], []
        for i in range(1, args.repeats + 1):
            app_times.append(step(page_app, "next", f"Step t = {t0 + i}", step_line))
            bare_times.append(step(page_bare, "next", f"Step {i}",
                                   lambda p: bare_chart(p).locator(".scatterlayer path").first))
        t = t0 + args.repeats
        page_app.get_by_role("heading", name=re.compile(f"Step t = {t}")).click()  # the focus
        page_app.wait_for_function("() => window.katex !== undefined", timeout=60_000)
        in_browser = [browser_step(page_app) for _ in range(args.repeats)]
        played = playback(page_app, f"{app}/?" + urlencode(
            {"ckpt": "agreement", "text": COURSE * 6, "t": t0, "unit": 3}))
    a, b = statistics.median(cold_app), statistics.median(cold_bare)
    print(f"cold open of a deep link, median of {args.repeats}: app {a:.2f} s, bare page "
          f"{b:.2f} s, ratio {a / b:.2f}x (goal <= 2x)")
    a, b = statistics.median(app_times), statistics.median(bare_times)
    print(f"first render (cached trace): app {first_app:.2f} s, bare page {first_bare:.2f} s, "
          f"ratio {first_app / first_bare:.2f}x")
    print(f"step change, median of {args.repeats}: app {a * 1000:.0f} ms, bare page "
          f"{b * 1000:.0f} ms, ratio {a / b:.2f}x (goal <= 2x)")
    k = statistics.median(in_browser)
    print(f"step change, browser-side (key press → card changed), median of {args.repeats}: "
          f"app {k * 1000:.0f} ms, against the bare page's rerun {b * 1000:.0f} ms: "
          f"{k / b:.2f}x (goal: <= 50 ms)")
    print(f"playback: {played[0]:.1f} steps/s drawn over 5 s, window changes included "
          f"({played[1]:.1f} within a window; 20 asked; goal >= 10), against {1 / a:.1f} "
          "steps/s by the ▶ button's round trip")


if __name__ == "__main__":
    main()
