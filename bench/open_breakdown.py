"""Where the time of opening a deep link goes, the app's stepper against the bare view page:
the phases that bench/step_latency.py's "link reopen" and "cold open" rows add up; and where
the time of its fresh-browser switches goes.

    python -m bench.open_breakdown [--rounds 5] [--only switch]

Each page records, on the browser's own clock (ms from navigation), when its first heading,
the step chart's frame, plotly.js evaluated in that frame, and the first chart drawn appear,
and the main thread's long tasks. Same tab (the browser has the assets, and Chromium's code
cache has plotly.js) and a fresh context (nothing cached), alternating with the bare page.

Switches: a fresh context opens a link, reads READ seconds, and switches to each of
step_latency's FRESH_VIEWS (the bare page to its view two); from the click (ms): the view's
heading, the page settled with every chart drawn, the main thread's long tasks after the
click, and the script files the browser fetched for the view (Streamlit's frontend loads an
element's code the first time a page shows one).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.step_latency import (
    FRESH_VIEWS,
    READ,
    app_chart,
    app_link,
    bare_chart,
    charts_drawn,
    fresh_page,
    fresh_text,
    round_text,
)
from dashboard.registry import VIEWS
from tests.browser import ROOT, browser, serve, settle

MARKS = r"""
(() => {
  const start = performance.timeOrigin, marks = {}, long = [];
  const at = () => Math.round(performance.timeOrigin + performance.now() - start);
  const mark = (k) => { if (!(k in marks)) marks[k] = at(); };
  window.__phases = { marks, long, start };
  const look = () => {
    if (document.querySelector("h1, h2, h3")) mark("heading");
    if (document.querySelector(".st-key-step_chart .gru-live")) mark("chart element");
    if (window.gruPlotly && !window.__gruPlotlyMarked) {  // the chart's plotly.js (chart.js)
      window.__gruPlotlyMarked = true;
      window.gruPlotly.then(() => mark("plotly.js evaluated"));
    }
    if (document.querySelector(".main-svg")) mark("first chart drawn");
  };
  const poll = () => { look(); if (!("first chart drawn" in marks)) requestAnimationFrame(poll); };
  requestAnimationFrame(poll);  // at each frame the browser paints, until a chart is drawn
  addEventListener("DOMContentLoaded", () => {
    if (!window.Plotly) return;  // the chart's frame: its first Plotly.react, until drawn
    mark("plotly.js evaluated");
    const react = Plotly.react;
    Plotly.react = (...a) => react(...a).then((gd) => { mark("first chart drawn"); return gd; });
  });
  new PerformanceObserver((l) => { for (const e of l.getEntries()) long.push(e.duration); })
    .observe({ type: "longtask", buffered: true });
})();
"""


def phases(page) -> dict[str, float]:
    """{phase: ms after the top page's navigation}, the frame's on the same clock."""
    top = page.evaluate("() => window.__phases")
    out = dict(top["marks"])
    out["main thread in long tasks"] = sum(top["long"])
    for frame in page.frames[1:]:
        got = frame.evaluate("() => window.__phases || null")
        if got and "plotly.js evaluated" in got["marks"]:  # the step chart's frame
            shift = got["start"] - top["start"]
            out.update({k: v + shift for k, v in got["marks"].items() if k != "heading"})
    return out


def opened(page, url: str, heading: str) -> dict[str, float]:
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
    settle(page, 120_000)
    charts_drawn(page)
    return phases(page)


def table(name: str, app: list[dict], bare: list[dict]) -> None:
    print(f"\n{name}, medians (app | bare page):")
    for key in dict.fromkeys(k for run in app + bare for k in run):
        cols = [statistics.median(r[key] for r in runs) if all(key in r for r in runs)
                else None for runs in (app, bare)]  # a phase the page has not: "-"
        print(f"  {key:32s}" + "".join("        -" if c is None else f"{c:9.0f}" for c in cols))


SINCE_CLICK = r"""
(() => {
  const t0 = performance.now(), long = [];
  window.__since = { t0, long };
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) if (e.startTime >= t0) long.push(e.duration);
  }).observe({ type: "longtask" });
})()
"""


def switched(chrome, url: str, ready, label: str, heading: str) -> dict[str, float]:
    """A fresh context opens `url`, reads READ seconds, clicks `label`: the phases (ms)."""
    with fresh_page(chrome, url, ready, READ) as page:
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url) if r.url.endswith(".js") else None)
        page.evaluate(SINCE_CLICK)
        start = time.perf_counter()
        page.locator(".st-key-view").get_by_text(label, exact=True).click()
        page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
        out = {"heading": (time.perf_counter() - start) * 1000}
        settle(page, 120_000)
        charts_drawn(page)
        out["settled, every chart drawn"] = (time.perf_counter() - start) * 1000
        out["main thread in long tasks"] = sum(page.evaluate("() => window.__since.long"))
        out["script files fetched"] = len(fetched)
        return out


def switches(rounds: int) -> None:
    with serve(ROOT / "dashboard/app.py") as app, serve(ROOT / "bench/bare_views.py") as bare, \
            browser() as chrome:
        texts = iter(range(100, 100 + rounds * len(FRESH_VIEWS)))
        runs = {key: ([], []) for key in FRESH_VIEWS}
        for _ in range(rounds):
            for key in FRESH_VIEWS:
                view = VIEWS[key]
                runs[key][0].append(switched(
                    chrome, app_link(app, fresh_text(next(texts)), 5),
                    lambda p: app_chart(p).locator(".main-svg").first.wait_for(timeout=120_000),
                    view.label, view.question))
                runs[key][1].append(switched(
                    chrome, f"{bare}/?t=5",
                    lambda p: bare_chart(p).locator(".main-svg").first.wait_for(timeout=120_000),
                    "two", "View two"))
    for key, (a, b) in runs.items():
        table(f"fresh browser, {READ:.0f} s after a link, switch to {VIEWS[key].label}, "
              "ms after the click", a, b)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only", choices=("switch",), help="switch: only the fresh-browser switches")
    args = p.parse_args()
    if args.only == "switch":
        switches(args.rounds)
        return
    with serve(ROOT / "dashboard/app.py") as app, serve(ROOT / "bench/bare_views.py") as bare, \
            browser() as chrome:
        def app_at(r, t):
            return app_link(app, round_text(r), t), f"Step t = {t}"

        def bare_at(r, t):
            return f"{bare}/?t={t}", f"View one at t = {t}"

        runs = {"same tab": ([], []), "fresh context": ([], [])}
        tabs = [chrome.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
        for tab in tabs:
            tab.add_init_script(MARKS)
        for r in range(args.rounds):
            for i, (tab, at) in enumerate(zip(tabs, (app_at, bare_at), strict=True)):
                opened(tab, *at(r, 5))  # then the same link at another t, in that tab
                tab.wait_for_timeout(1000)
                runs["same tab"][i].append(opened(tab, *at(r, 12)))
                context = chrome.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(MARKS)
                runs["fresh context"][i].append(opened(context.new_page(), *at(r, 5)))
                context.close()
    for name, (a, b) in runs.items():
        table(f"{name}, in ms after navigation", a, b)
    switches(args.rounds)


if __name__ == "__main__":
    main()
