"""Offline copies: one self-contained HTML file that opens in any browser with no server.
The worked example (its tables, sentences and post) and the stepper's chart with a player
(Plotly.js embedded, Plotly frames with a slider and play buttons)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

import plotly.graph_objects as go

from gru_core import WorkedExample

from .text import show_token

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:14px}"
         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
         "pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}")


def _page(title: str, body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style>{head}</head><body>{body}</body></html>")


def example_html(ex: WorkedExample, names: dict[str, str], post: str, notation: str) -> str:
    """Every step's table (4 decimals) and sentences, then the forum post as plain text."""
    parts = [f"<h1>Worked example: steps {', '.join(map(str, ex.steps))} × units "
             f"{', '.join(map(str, ex.units))}</h1>"]
    for i, t in enumerate(ex.steps):
        tok = ex.tokens[i]
        parts.append(f"<h2 id='t{t}'>t = {t}" + (f", reading {html.escape(repr(show_token(tok)))}"
                                                 if tok is not None else "") + "</h2>")
        table = ex.tables[i].rename(columns=names)
        parts.append(table.to_html(index=False, float_format=lambda v: f"{v:.4f}",
                                   escape=True, classes="terms"))
        parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>"
                                      for s in ex.sentences(i, notation)) + "</ul>")
    parts.append(f"<h2>The forum post</h2><pre id='post'>{html.escape(post)}</pre>")
    return _page("GRU worked example", "\n".join(parts))


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
