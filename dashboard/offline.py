"""Offline copies: one self-contained HTML file that opens in any browser with no server.
The worked example (its tables, sentences and post) and the stepper's chart with a player
(Plotly.js embedded, Plotly frames with a slider and play buttons)."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from gru_core import TextTrace, WorkedExample, balance, heatmaps

from . import charts
from .text import show_token

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:14px}"
         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
         "pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}")


def _page(title: str, body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style>{head}</head><body>{body}</body></html>")


KATEX = Path(__file__).parent / "katex"  # KaTeX's own files (MIT), vendored: see its README


@cache
def katex_head() -> str:
    """KaTeX's script and style, with its woff2 fonts inlined as data URIs: math typesets in a
    file opened with no server and no network."""
    def font(m: re.Match) -> str:
        data = base64.b64encode((KATEX / "fonts" / f"{m[1]}.woff2").read_bytes()).decode()
        return f'url(data:font/woff2;base64,{data}) format("woff2")'

    css = (KATEX / "katex.min.css").read_text(encoding="utf-8")
    css = re.sub(r'url\(fonts/([\w-]+)\.woff2\) format\("woff2"\)(,url\([^)]*\) format\("\w+"\))*',
                 font, css)
    js = (KATEX / "katex.min.js").read_text(encoding="utf-8")
    return f"<style>{css}</style><script>{js}</script>"


# each <div class="math"> holds its LaTeX as text: typeset it in place (errors shown, not thrown)
RENDER = ("<script>document.querySelectorAll('div.math').forEach(function (el) {"
          "katex.render(el.textContent, el, {displayMode: true, throwOnError: false});"
          "});</script>")


def example_html(ex: WorkedExample, tables: list[pd.DataFrame], post: str, notation: str,
                 latex: list[str] = ()) -> str:
    """Every step's table as the page has it (`tables`: a row per term; 4 decimals), its math
    typeset by the bundled KaTeX (latex: one "$$ … $$" block per step, as the post has it) and
    its sentences, then the forum post as plain text."""
    parts = [f"<h1>Worked example: {ex.scope}</h1>"]
    for i, t in enumerate(ex.steps):
        tok = ex.tokens[i]
        parts.append(f"<h2 id='t{t}'>t = {t}" + (f", reading {html.escape(repr(show_token(tok)))}"
                                                 if tok is not None else "") + "</h2>")
        parts.append(tables[i].to_html(float_format=lambda v: f"{v:.4f}",
                                   escape=True, classes="terms"))
        if i < len(latex):
            tex = latex[i].strip().removeprefix("$$").removesuffix("$$").strip()
            parts.append(f"<div class='math'>{html.escape(tex)}</div>")
        parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>"
                                      for s in ex.sentences(i, notation)) + "</ul>")
    parts.append(f"<h2>The forum post</h2><pre id='post'>{html.escape(post)}</pre>")
    if latex:
        parts.append(RENDER)
    return _page("GRU worked example", "\n".join(parts), katex_head() if latex else "")


def player_figure(fig: go.Figure, steps: list[int], marker: Callable[[int], list],
                  start: int | None = None) -> go.Figure:
    """fig with one frame per step (marker(t) -> the frame's layout shapes), a slider and
    play / pause buttons: Plotly's own animation, which runs with no server."""
    frames = [go.Frame(name=str(t), layout={"shapes": marker(t)}) for t in steps]
    fig = go.Figure(fig)
    fig.frames = frames
    fig.update_layout(
        shapes=marker(steps[0] if start is None else start),
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": -0.08,
                      "xanchor": "left", "yanchor": "top", "buttons": [
                          {"label": "▶ play", "method": "animate",
                           "args": [None, {"frame": {"duration": 400, "redraw": True},
                                           "fromcurrent": True, "mode": "immediate"}]},
                          {"label": "❚❚ pause", "method": "animate",
                           "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}]}]}],
        sliders=[{"active": steps.index(start) if start in steps else 0,
                  "x": 0.15, "y": -0.08, "len": 0.85,
                  "currentvalue": {"prefix": "t = "},
                  "steps": [{"label": str(t), "method": "animate",
                             "args": [[str(t)], {"frame": {"duration": 0, "redraw": True},
                                                 "mode": "immediate"}]} for t in steps]}])
    return fig


# ▶ play at the last frame starts again from the first (Plotly's own button would do nothing)
RESTART = """
var gd = document.getElementById('{plot_id}'), names = %s, current = null;
gd.on('plotly_animatingframe', function (e) { current = e.name; });
gd.on('plotly_buttonclicked', function (e) {
  if (e.button.label.indexOf('play') < 0 || current !== names[names.length - 1]) return;
  setTimeout(function () {
    Plotly.animate(gd, names, {frame: {duration: 400, redraw: true}, mode: 'immediate'});
  }, 0);
});
"""


def chart_html(fig: go.Figure, title: str, caption: str = "", start: int | None = None) -> str:
    """A figure as one HTML file with Plotly.js inside it (a few MB; no network needed). With
    `start`, the player's current frame is that step, so ▶ play runs on from it."""
    names = [f.name for f in fig.frames]
    at = ("" if start is None else
          f"Plotly.animate('{{plot_id}}', ['{int(start)}'], {{frame: {{duration: 0, redraw: true}},"
          " transition: {duration: 0}, mode: 'immediate'});")
    div = fig.to_html(full_html=False, include_plotlyjs=True, div_id="chart",
                      auto_play=False, post_script=at + RESTART % json.dumps(names))
    return _page(title, f"<h1>{html.escape(title)}</h1>{div}<p>{html.escape(caption)}</p>")


CHART_STEPS = 1000  # steps an offline chart holds at most: every step of a text up to this


def chart_steps(t: int, T: int, cap: int = CHART_STEPS) -> slice:
    """Every step of the text when it has at most `cap`; else `cap` steps around t."""
    lo = max(0, min(t - cap // 2, T - cap))
    return slice(lo, min(T, lo + cap))


def stepper_html(tt: TextTrace, t: int, unit: int, layer: int, direction: int,
                 sym: dict[str, str], model: str) -> str:
    """The stepper's chart over every step of the text (up to CHART_STEPS, and it says which
    it holds), in the page's colours, with a player that runs offline."""
    w = chart_steps(t, tt.T)
    df = balance(tt, unit, layer, direction, w)
    mats = heatmaps(tt, layer, direction, w)
    spec = charts.step_chart(df, mats, t, unit, sym)
    steps = df.t.tolist()
    fig = player_figure(go.Figure(data=spec["data"], layout=spec["layout"]), steps,
                        lambda k: charts.step_markers(k, unit, tuple(mats)), start=t)
    held = (f"every step of the text, t = 0..{tt.T - 1}" if len(steps) == tt.T else
            f"steps {steps[0]}..{steps[-1]} of the text's 0..{tt.T - 1} (an offline copy holds "
            f"at most {CHART_STEPS:,}, around t = {t})")
    return chart_html(fig, f"GRU stepper: unit {unit}, t = {steps[0]}..{steps[-1]}",
                      f"Model {model}, layer {layer}. This copy holds {held}. ▶ play runs the "
                      "steps; the slider picks one.", start=t)
