"""Plotly figures. Each takes plain data and labels and returns a go.Figure; no model math here."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from _plotly_utils.utils import to_typed_array_spec

from gru_core import fmt, fmt_e, pct, share

from .export import f4
from .text import show_token

KEEP, NEW, H, Z, RNN = "#4C78A8", "#F58518", "#222222", "#54A24B", "#D62728"
# The heatmaps' colour scales, spelled out: a named scale means one thing to plotly.js (the
# page's live chart: "RdBu" runs blue to red) and the reverse to plotly.py (a go.Figure, as the
# offline copy builds it), so a name would flip +1 from red to blue between page and export.
_VIRIDIS = ("#440154 #48186a #472d7b #424086 #3b528b #33638d #2c728e #26828e #21918c #1fa088 "
            "#28ae80 #3fbc73 #5ec962 #84d44b #addc30 #d8e219 #fde725").split()
GATES_SCALE = [[k / 16, c] for k, c in enumerate(_VIRIDIS)]  # 0 dark purple, 1 yellow
VALUES_SCALE = [[0.0, "rgb(5,10,172)"], [0.35, "rgb(106,137,247)"], [0.5, "rgb(190,190,190)"],
                [0.6, "rgb(220,170,132)"], [0.7, "rgb(230,145,90)"],
                [1.0, "rgb(178,10,28)"]]  # −1 blue, 0 grey, +1 red: plotly.js's RdBu
CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}

# A legend under a chart, at the figure's bottom edge: Plotly reserves its height there, so the
# x axis's tick labels and title stay above it (a legend placed at a fraction of the plot's
# height below it lands on the axis title once the tick labels take two lines).
BELOW = dict(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom")


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain dicts, without plotly.py's property validation: the charts redrawn at
    every step would spend more time being validated than being drawn (tests render them all)."""
    return go.Figure(data=data, layout=layout, _validate=False)


def _typed(values: np.ndarray) -> dict:
    """A numpy array as a plotly.js typed array (base64 of its own bytes, as go.Figure would
    send it): a float32 heatmap travels as 4 bytes a value instead of 17 decimal digits, and the
    values drawn are the same numbers."""
    return to_typed_array_spec(np.ascontiguousarray(values))


def _label(tok: str) -> str:
    """A token as Plotly text: Plotly draws the tags it finds in a label (<a href>, <b>, <span
    style>), so <, > and & are escaped; it decodes them back for display."""
    return html.escape(show_token(tok), quote=False)


TOKENS, NUMBERS = 60, 12  # at most this many tokens, and step numbers, along a time axis
ROUND = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def number_every(n: int, every: int = 1) -> int:
    """Which step numbers an axis of n steps writes (those divisible by the result): at most
    NUMBERS of them, a round step that is a multiple of `every` (the tokens' own spacing).
    A number is wider than a character: one under each token would run into the next."""
    return next((k for k in ROUND if k % every == 0 and n / k <= NUMBERS),
                every * -(-n // (NUMBERS * every)))


def _token_ticks(steps, tokens, numbers: bool = True) -> dict:
    """Tokens (and, under some of them, step numbers) as ticks; a categorical axis would merge
    repeated ones."""
    every = max(1, len(steps) // TOKENS)
    k = number_every(len(steps), every)
    labels = [f"{_label(c)}<br>{t}" if numbers and t % k == 0 else _label(c)
              for t, c in zip(steps, tokens, strict=True)]
    return dict(tickmode="array", tickvals=list(steps)[::every], ticktext=labels[::every],
                tickangle=0)


def _token_axis(fig: go.Figure, steps, tokens, numbers: bool = True) -> None:
    fig.update_xaxes(**_token_ticks(steps, tokens, numbers))


def step_said(t: int, tok: str) -> str:
    """A step as a hover writes it: 75 ('w'), the token as the axis writes it."""
    return f"{int(t)} ('{_label(tok)}')"


def _hover(name: str, where: str = "t") -> str:
    """A hover that names its trace in full (Plotly cuts the name in its side box to 15
    characters, so that box is left empty) and reads its point from customdata: [0] where
    (a step as step_said writes it), [1] the value as the page prints it."""
    return f"{name}<br>{where} = %{{customdata[0]}}: %{{customdata[1]}}<extra></extra>"


def _points(where, values, number=f4) -> list[list[str]]:
    """customdata for _hover: each point's place and its value, formatted here (f4: the card's
    4 decimals, e-notation where tiny; Plotly's number formats cannot switch between them)."""
    return [[str(w), number(float(v))] for w, v in zip(where, values, strict=False)]


def _steps_said(steps, tokens) -> list[str]:
    return [step_said(t, c) for t, c in zip(steps, tokens, strict=False)]


def _hover_steps(steps, tokens) -> dict:
    """An axis of tokens whose hovers say "75 ('w')": a hover on an array-ticked axis prints
    the tick's own text (two lines, "w<br>75") when the point sits on a tick, so the ticks are
    moved a hair (under half a pixel) off the steps, and the step's number, which a hover then
    prints, is aliased to its words (heatmaps keep their customdata for the unit)."""
    ticks = _token_ticks(steps, tokens)
    off = max(len(steps), 1) / 2000  # Plotly matches a tick within 1/10000 of the range
    return {**ticks, "tickvals": [v + off for v in ticks["tickvals"]], "hoverformat": "d",
            "labelalias": {str(int(t)): step_said(t, c) for t, c in zip(steps, tokens,
                                                                         strict=True)}}



# One figure, one time axis: the selected unit's balance on top, then r, z, n, h for every unit.
# (y domain, y axis) per panel; the step line runs through all of them.
PANELS = {"balance": ((0.80, 1.0), "y"), "r": ((0.60, 0.76), "y3"), "z": ((0.40, 0.56), "y4"),
          "n": ((0.20, 0.36), "y5"), "h": ((0.0, 0.16), "y6")}
MARGIN = dict(t=110, b=60, l=60, r=90)  # fixed: Plotly's automatic margins cost a second layout
# Every axis of the step chart: no automatic margins (above), and its tick labels drawn as they
# are, not measured one by one to hide any that would cross the figure's edge (Plotly's default
# for a numeric axis): that measuring forces a layout per label, a large share of each draw.
# Within these margins a label reaches the edge only for a token of some twenty characters at
# the window's first or last step: it is then cut, not hidden.
LABELS = dict(ticklabeloverflow="allow")  # the colour bars' axes too
FIXED = dict(automargin=False, **LABELS)


# The question views' charts: margins given, not measured. With an axis's automatic margin,
# plotly.js draws the chart, measures its labels and draws it again; with labels that may cross
# the edge hidden, it measures each. A view's first draw waits for both, after the click.
def _fixed_margins(fig: go.Figure, **margin: int) -> go.Figure:
    fig.update_xaxes(**FIXED)
    fig.update_yaxes(**FIXED)
    fig.update_layout(margin=margin)
    return fig


READABLE = 64  # heatmap rows: one per unit up to this many (about 2 px a row, 4 panels)


def heatmap_rows(order: list[int], unit: int, most: int = READABLE) -> list[int]:
    """The units the heatmaps draw, top row first: all of `order` where it has at most `most`;
    otherwise every k-th of it (k the smallest step that fits), and `unit` at its place."""
    k = -(-len(order) // most)
    if k <= 1:
        return list(order)
    at = set(range(0, len(order), k)) | {order.index(unit)}
    return [order[i] for i in sorted(at)]


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def rows_said(rows: list[int], order: list[int], unit: int, how: str = "by index",
              most: int = READABLE) -> str:
    """Which units heatmap_rows(order, unit, most) draws, in words: "every unit (48)", or
    "every 4th unit of 256 (by index), and unit 17"."""
    if len(rows) == len(order):
        return f"every unit ({len(order)})"
    k = -(-len(order) // most)
    also = "" if order.index(unit) % k == 0 else f", and unit {unit}"
    return f"every {_ordinal(k)} unit of {len(order)} ({how}){also}"


def step_chart(df: pd.DataFrame, mats: dict[str, np.ndarray], t: int, unit: int,
               sym: dict[str, str], order: list[int] | None = None, rows: str = ""
               ) -> dict:
    """Top: for the selected unit, kept z·h_prev and new (1−z)·n stacked into h, with z. Below:
    heatmaps of r, z (0..1) and n, h (−1..1) over (unit × step). Step t and the unit are marked
    by shapes only (step_markers), so that stepping can redraw just those
    (dashboard/live_chart.py). A plain dict: built only when its data change. `order`: the
    units from the top row of each heatmap down (default: every unit, by index; it may be a
    sample of them: heatmap_rows), said in words by `rows` (rows_said); rows are positions,
    each labelled with its unit."""
    steps = df.t.to_numpy()
    H = len(next(iter(mats.values())))
    order = list(range(H)) if order is None else order
    ids = np.repeat(np.asarray(order, dtype=np.int16)[:, None], len(steps), axis=1)
    row = order.index(unit)
    data = _balance_traces(df, sym)
    below = rows or f"every unit ({H})"
    layout = dict(
        height=1000, margin=MARGIN, barmode="relative", hovermode="closest",
        title=dict(text=f"Where {sym['h']} comes from for unit {unit} (top)<br><sub>Below: "
                   f"{below}, at the same steps (magenta: step t and the unit)</sub>",
                   font=dict(size=15)),
        legend=dict(orientation="h", x=0, y=1.01, yanchor="bottom"),
        xaxis=dict(anchor="y6", **FIXED, **_hover_steps(steps, df.token)),
        yaxis=dict(domain=PANELS["balance"][0], anchor="x", title=dict(text="value"),
                   **FIXED),
        yaxis2=dict(overlaying="y", side="right", range=[0, 1.02], tickmode="linear", tick0=0,
                    dtick=0.25, showgrid=False, title=dict(text=sym["z"]), **FIXED),
        coloraxis=dict(colorscale=GATES_SCALE, cmin=0, cmax=1,
                       colorbar=dict(title=dict(text="gate"), y=0.58, len=0.36, **LABELS)),
        coloraxis2=dict(colorscale=VALUES_SCALE, cmin=-1, cmax=1,
                        colorbar=dict(title=dict(text="value"), y=0.18, len=0.36, **LABELS)),
        shapes=step_markers(t, row, tuple(mats)), annotations=[])
    every = max(1, len(order) // 8)
    for name, values in mats.items():
        (lo, hi), ya = PANELS[name]
        data.append(dict(type="heatmap", z=_typed(values[order]), x=steps, xaxis="x", yaxis=ya,
                         customdata=ids, coloraxis="coloraxis" if name in "rz" else "coloraxis2",
                         hovertemplate=f"{sym[name]} = %{{z:.4f}}<br>t = %{{x}}, unit "
                         "%{customdata}<extra></extra>"))
        layout[f"yaxis{ya[1:]}"] = dict(domain=(lo, hi), anchor="x", **FIXED,
                                        title=dict(text=f"{sym[name]}: unit"),
                                        autorange="reversed",  # order[0] on the top row
                                        tickmode="array", tickvals=list(range(0, len(order),
                                                                              every)),
                                        ticktext=[str(u) for u in order[::every]])
    return dict(data=data, layout=layout)


def unit_chart(df: pd.DataFrame, t: int, unit: int, sym: dict[str, str], height: int
               ) -> go.Figure:
    """The step chart's top panel alone (the screen-share layout): kept and new stacked into
    h, with z, step t marked."""
    steps = df.t.to_numpy()
    return _figure(_balance_traces(df, sym), dict(
        height=height, barmode="relative", margin=dict(t=40, b=10, l=50, r=50),
        title=dict(text=f"Where {sym['h']} comes from for unit {unit}", font=dict(size=14)),
        legend={**BELOW, "font": dict(size=11)},  # in a narrow column it takes two rows
        xaxis=dict(title=dict(text="t"), range=[steps[0] - 0.5, steps[-1] + 0.5]),
        yaxis=dict(title=dict(text="value")),
        yaxis2=dict(overlaying="y", side="right", range=[0, 1.02], tickmode="linear", tick0=0,
                    dtick=0.25, showgrid=False, title=dict(text=sym["z"])),
        shapes=[step_markers(t, unit)[0]]))


def step_markers(t: int, unit: int, panels: tuple[str, ...] = ("r", "z", "n", "h")
                 ) -> list[dict]:
    """The magenta lines: step t through every panel, the unit across each heatmap."""
    return [_line(x0=t, x1=t, xref="x", y0=0, y1=1, yref="paper")] + [
        _line(x0=0, x1=1, xref="paper", y0=unit, y1=unit, yref=PANELS[name][1])
        for name in panels]


def _balance_traces(df: pd.DataFrame, sym: dict[str, str]) -> list[dict]:
    t_, said = df.t.to_numpy(), _steps_said(df.t, df.token)

    def hover(name: str, column: str) -> dict:
        return dict(name=name, y=df[column].to_numpy(), hovertemplate=_hover(name),
                    customdata=_points(said, df[column]))

    return [
        dict(type="bar", x=t_, **hover(f"kept: {sym['keep']}", "keep"),
             marker=dict(color=KEEP)),
        dict(type="bar", x=t_, **hover(f"new: {sym['new']}", "new"), marker=dict(color=NEW)),
        dict(type="scatter", x=t_, **hover(f"{sym['h']} = kept + new", "h"),
             mode="lines+markers", line=dict(color=H, width=2), marker=dict(size=5)),
        dict(type="scatter", x=t_, **hover(sym["z"], "z"), mode="lines", yaxis="y2",
             line=dict(color=Z, dash="dot")),
    ]


def _line(**where) -> dict:
    """A marker line: magenta is visible on Viridis, on RdBu and on the bars alike."""
    return dict(type="line", line=dict(color="#e600e6", width=2), **where)


def prediction_chart(top: list[tuple[str, float]], title: str, actual: str | None = None
                     ) -> go.Figure:
    labels = [html.escape(repr(show_token(c)), quote=False) for c, _ in top][::-1]
    colors = [KEEP if c != actual else NEW for c, _ in top][::-1]
    probs = [p for _, p in top][::-1]
    return _figure(
        [dict(type="bar", x=probs, y=labels, orientation="h", marker=dict(color=colors),
              text=[f"{p:.1%}" for p in probs], customdata=labels,
              hovertemplate="%{customdata}: %{text}<extra></extra>")],
        dict(title=dict(text=title), height=260, margin=dict(t=40, b=30, l=50, r=10),
             xaxis=dict(range=[0, 1], tickformat=".0%")))


GATE_COLORS = ("#E45756", "#54A24B")  # r, z


def saturation_histogram(hists: dict[str, pd.DataFrame], low: float, high: float) -> go.Figure:
    fig = go.Figure()
    for color, (name, df) in zip(GATE_COLORS, hists.items(), strict=True):
        fig.add_bar(x=(df.left + df.right) / 2, y=df.share, name=name, opacity=0.6,
                    width=(df.right - df.left), marker_color=color,
                    customdata=[[f"{fmt(a, 2)} and {fmt(b, 2)}", pct(v)]
                                for a, b, v in zip(df.left, df.right, df.share, strict=True)],
                    hovertemplate=f"{name}: %{{customdata[1]}} of the values are between "
                    "%{customdata[0]}<extra></extra>")
    for x in (low, high):
        fig.add_vline(x=x, line=dict(color="gray", dash="dash"))
    fig.update_layout(barmode="overlay", height=320, title="How often each gate value occurs",
                      xaxis_title="gate value", yaxis_title="share of (step, unit) values")
    return _fixed_margins(fig, t=40, b=55, l=75, r=70)


def saturation_scatter(df: pd.DataFrame, sym: dict[str, str], low: float = 0.1,
                       high: float = 0.9) -> go.Figure:
    fig = go.Figure()
    for color, (gate, part) in zip(GATE_COLORS, df.groupby("gate"), strict=True):
        fig.add_scatter(x=part.left, y=part.right, mode="markers", name=sym[gate],
                        marker_color=color,
                        text=[f"unit {u}" for u in part.unit], opacity=0.7,
                        hovertemplate=f"{sym[gate]}, %{{text}}<br>below {low}: %{{x:.0%}}<br>"
                        f"above {high}: %{{y:.0%}}<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[1, 0], mode="lines", line=dict(color="gray", dash="dot"),
                    name="never grey (the two shares add up to 1)", hoverinfo="skip")
    fig.update_layout(height=380, title=f"Per unit: share of steps near 0 (across, below {low})"
                      f" and near 1 (up, above {high})",
                      xaxis=dict(title=dict(text=f"share of steps below {low}", standoff=18),
                                 range=[0, 1]),
                      yaxis=dict(title=f"share of steps above {high}", range=[0, 1]),
                      legend=BELOW)
    return _fixed_margins(fig, t=40, b=90, l=75, r=70)


FLOOR = 1e-6  # the retention axis's floor: a share kept below it is drawn there, hatched
# log axes write 10⁻⁶, not 1μ: an SI prefix (μ, n, p, f) reads as a symbol to a learner
LOG = dict(type="log", exponentformat="power")


def retention_bars(ret, top_units: list[int], prod_z: str, unit: int | None = None,
                   holds: float | None = None, rewritten: float | None = None) -> go.Figure:
    """Retention per unit (log); the given holders orange, the selected unit black, the hold
    and rewritten thresholds dashed. A unit that kept less than FLOOR gets a hatched bar up to
    FLOOR (the axis starts below it, so the bar shows), its own value in its hover."""
    ret = np.asarray(ret, dtype=float)
    under = ret < FLOOR
    colors = [H if u == unit else NEW if u in top_units else KEEP for u in range(len(ret))]
    note = [f" (below {_power(FLOOR)}: drawn at the floor)" if b else "" for b in under]
    fig = go.Figure(go.Bar(
        x=list(range(len(ret))), y=np.where(under, FLOOR, ret), marker_color=colors,
        marker_pattern_shape=["/" if b else "" for b in under],
        customdata=[[share(r), n] for r, n in zip(ret, note, strict=True)] or None,
        hovertemplate=f"unit %{{x}}: kept %{{customdata[0]}} ({prod_z})%{{customdata[1]}}"
                      "<extra></extra>"))
    for y in (holds, rewritten):
        if y is not None:
            fig.add_hline(y=y, line=dict(color="gray", dash="dash"))
    k = int(under.sum())
    below = (f"<br><sub>{k} unit{'s' if k != 1 else ''} kept less than {_power(FLOOR)}: "
             "drawn at the floor, hatched</sub>") if k else ""
    fig.update_layout(height=300 + 30 * bool(k),
                      title=f"Retention per unit: {prod_z} over the span{below}",
                      xaxis_title="unit", yaxis=dict(title="share of the old value kept (log)",
                                                     range=[np.log10(FLOOR) - 0.4, 0.05], **LOG))
    return _fixed_margins(fig, t=40 + 30 * bool(k), b=55, l=75, r=20)


def _power(v: float) -> str:
    """A power of ten as the log axes write it: 1e-06 -> 10⁻⁶."""
    return "10" + str(round(np.log10(v))).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def unit_lines(steps, chars, series: dict[str, object], title: str, span=None,
               y_title: str = "h") -> go.Figure:
    fig = go.Figure()
    said = _steps_said(steps, chars)
    for name, ys in series.items():
        fig.add_scatter(x=list(steps), y=ys, mode="lines+markers", name=name, marker=dict(size=4),
                        customdata=_points(said, ys), hovertemplate=_hover(name))
    if span is not None:
        fig.add_vrect(x0=span[0], x1=span[1], fillcolor="gold", opacity=0.15, line_width=0)
    fig.update_layout(height=400, title=title, yaxis_title=y_title, legend=BELOW,
                      xaxis_title=dict(text="step (token)", standoff=34))  # under both tick rows
    _token_axis(fig, steps, chars)
    return _fixed_margins(fig, t=40, b=100, l=75, r=20)


def gate_line(steps, chars, z, name: str, line: float, span, title: str) -> go.Figure:
    """One unit's gate over the steps, the threshold dashed and the steps span[0]..span[1]
    shaded (whole steps: from half a step before the first to half after the last)."""
    fig = go.Figure(go.Scatter(x=list(steps), y=z, mode="lines+markers", name=name,
                               line=dict(color=Z), marker=dict(size=5),
                               customdata=_points(_steps_said(steps, chars), z),
                               hovertemplate=_hover(name)))
    fig.add_hline(y=line, line=dict(color="gray", dash="dash"))
    fig.add_vrect(x0=span[0] - 0.5, x1=span[1] + 0.5, fillcolor="gold", opacity=0.15,
                  line_width=0)
    fig.update_layout(height=260, title=title, yaxis=dict(title=name, range=[0, 1.02]))
    _token_axis(fig, steps, chars)
    return _fixed_margins(fig, t=40, b=50, l=75, r=20)


def pair_lines(steps, chars, pairs: dict[int, tuple], title: str, y_title: str = "h"
               ) -> go.Figure:
    """Per unit, h for the singular (solid) and the plural (dashed) sentence, in one colour."""
    fig = go.Figure()
    said = _steps_said(steps, chars)
    for color, (unit, (sg, pl)) in zip((KEEP, NEW, Z), pairs.items(), strict=False):
        for ys, number, style in ((sg, "singular", {}), (pl, "plural", {"dash": "dash"})):
            name = f"unit {unit}, {number}"
            fig.add_scatter(x=list(steps), y=ys, name=name, mode="lines+markers",
                            line=dict(color=color, **style),
                            marker=dict(size=4, symbol="x" if style else "circle"),
                            customdata=_points(said, ys), hovertemplate=_hover(name))
    fig.update_layout(height=340, title=title, yaxis_title=y_title,
                      margin=dict(t=40, b=10, l=10, r=10),
                      legend=BELOW)
    _token_axis(fig, steps, chars)
    return fig


def gradient_flow(distance, norms, z_mean, z_max, sym: dict[str, str], rnn=None,
                  rnn_name: str = "plain RNN", holds: float = 0.5) -> go.Figure:
    """Two panels on one distance axis: the Jacobian's norm (a matrix norm, all paths) on top,
    the direct path's ∏z (a share per unit, at most 1) below, each on its own log axis."""
    jac, prod = sym["jacobian"], sym["prod_z"]

    def hover(name: str, ys) -> dict:  # log axes over many decades: e-notation, as the sentences
        return dict(name=name, y=ys, hovertemplate=_hover(name, "t − s"),
                    customdata=_points(distance, ys, lambda v: fmt_e(v, 2)))

    data = [dict(type="scatter", x=distance, mode="lines+markers", line=dict(color=H),
                 marker=dict(size=4), **hover(f"GRU: {jac} (Frobenius)", norms))]
    if rnn is not None:
        data.append(dict(type="scatter", x=distance, mode="lines", line=dict(color=RNN),
                         **hover(f"{rnn_name}: {jac}", rnn)))
    data += [dict(type="scatter", x=distance, mode="lines", line=dict(color=Z), yaxis="y2",
                  **hover(f"direct path: the best unit's {prod}", z_max)),
             dict(type="scatter", x=distance, mode="lines", yaxis="y2",
                  line=dict(color=Z, dash="dot"),
                  **hover(f"direct path: {prod} averaged over units", z_mean))]
    return _figure(data, dict(
        height=480, title=dict(text="How much of a change at step s still reaches step t"),
        xaxis=dict(title=dict(text="distance t − s (steps back)"), anchor="y2"),
        yaxis=dict(domain=[0.55, 1], title=dict(text=f"{jac}, all paths"), **LOG),
        yaxis2=dict(domain=[0, 0.42], anchor="x", title=dict(text=f"{prod}, direct path"),
                    **LOG),
        shapes=[dict(type="line", xref="paper", x0=0, x1=1, yref="y2", y0=holds, y1=holds,
                     line=dict(color="gray", dash="dash"))],
        annotations=[dict(xref="paper", x=1, xanchor="right", yref="y2", y=np.log10(holds),
                          yanchor="bottom", text=f"{holds:.0%} kept", showarrow=False,
                          font=dict(color="gray", size=11))],
        margin=dict(t=40, b=10, l=10, r=10), legend=BELOW))


# Okabe–Ito colours with distinct marker shapes: told apart without colour vision too
CANDIDATE_STYLES = (("#0072B2", "circle"), ("#E69F00", "diamond-open"), ("#009E73", "x"))


def candidates(labels: list[str], series: dict[str, object], title: str,
               y_title: str = "candidate value") -> go.Figure:
    """Per labelled unit, in the given order, each candidate as a marker: each series its own
    colour and shape."""
    fig = go.Figure()
    for (color, symbol), (name, ys) in zip(CANDIDATE_STYLES, series.items(), strict=False):
        fig.add_scatter(x=labels, y=ys, mode="markers", name=name,
                        marker=dict(size=10, color=color, symbol=symbol,
                                    line=dict(width=2, color=color)),
                        customdata=[f4(float(v)) for v in ys],
                        hovertemplate=f"{name}<br>%{{x}}: %{{customdata}}<extra></extra>")
    fig.update_layout(height=360, title=title, xaxis_title="unit",
                      yaxis=dict(range=[-1.05, 1.05], title=y_title),
                      xaxis=dict(type="category"), margin=dict(t=40, b=10, l=10, r=10),
                      legend=BELOW)
    return fig


DRIFT_FLOOR = 0.1  # ‖Δh‖ axis at least this tall: an edit that changes nothing looks like nothing


def what_if_chart(wi, tokens: list[str], sym: dict[str, str]) -> go.Figure:
    """The unit's h, actual and after the edit, over the following steps; and how far the
    whole state moved (‖Δh‖, right axis)."""
    steps = list(wi.steps)
    u = wi.unit
    said = _steps_said(steps, tokens[wi.t : wi.t + len(steps)])

    def hover(name: str, ys: list[float]) -> dict:
        return dict(name=name, y=ys, hovertemplate=_hover(name), customdata=_points(said, ys))

    data = [
        dict(type="scatter", x=steps, **hover(f"{sym['h']}, unit {u}: actual", wi.h[:, u].tolist()),
             mode="lines+markers", line=dict(color=H), marker=dict(size=5)),
        dict(type="scatter", x=steps,
             **hover(f"{sym['h']}, unit {u}: with the edit", wi.h_what_if[:, u].tolist()),
             mode="lines+markers", line=dict(color=NEW, dash="dash"),
             marker=dict(size=5, symbol="x")),
        dict(type="bar", x=steps, **hover(f"‖Δ{sym['state']}‖, every unit (right axis)",
                                           wi.drift.tolist()),
             yaxis="y2", marker=dict(color=KEEP), opacity=0.35),
    ]
    layout = dict(height=340, title=dict(text=f"After the edit at t = {wi.t}"),
                  margin=dict(t=40, b=10, l=10, r=10), legend=BELOW,
                  yaxis=dict(title=dict(text=sym["h"]), range=[-1.05, 1.05]),
                  yaxis2=dict(overlaying="y", side="right", showgrid=False, tickmode="auto",
                              range=[0, max(DRIFT_FLOOR, 1.05 * float(wi.drift.max()))],
                              title=dict(text=f"‖Δ{sym['state']}‖")),
                  xaxis=dict(title=dict(text="step (token)"),
                             **_token_ticks(steps, tokens[wi.t : wi.t + len(steps)])))
    return _figure(data, layout)


def input_picture(x: np.ndarray, span: tuple[int, int], title: str,
                  seconds_per_frame: float | None = None) -> go.Figure:
    """A feature model's input (T_in, F) as a heatmap, frames across (frame i spans [i, i + 1)
    in frames or seconds), features up; the input frames [start, end) GRU step t reads boxed."""
    scale = seconds_per_frame or 1
    start, end = span[0] * scale, span[1] * scale
    return _figure(
        [dict(type="heatmap", z=_typed(np.asarray(x, dtype=np.float32).T), dx=scale, x0=scale / 2,
              colorscale="Viridis", colorbar=dict(thickness=10),
              hovertemplate=("%{x:.3f} s" if seconds_per_frame else "input frame %{x:.1f}")
              + ", feature %{y:d}: %{z:.4f}<extra></extra>")],
        dict(title=dict(text=title), height=300, margin=dict(t=40, b=40, l=50, r=10),
             xaxis=dict(title=dict(text="seconds" if seconds_per_frame else "input frame")),
             yaxis=dict(title=dict(text="feature")),
             shapes=[dict(type="rect", x0=start, x1=end, y0=0, y1=1, yref="paper",
                          line=dict(color="#e600e6", width=2))]))


def head_over_steps(probs: np.ndarray, labels: list[str], t: int, title: str,
                    step_seconds: list[float] | None = None) -> go.Figure:
    """The head's output (T, C) at every GRU step, one line per class, step t marked."""
    steps = list(range(probs.shape[0]))
    data = [dict(type="scatter", mode="lines", x=steps, y=probs[:, c].tolist(),
                 name=_label(labels[c]),
                 customdata=step_seconds, hovertemplate=f"{_label(labels[c])}<br>t = %{{x:d}}: "
                 "%{y:.4f}" +
                 (" (%{customdata:.2f} s)" if step_seconds else "") + "<extra></extra>")
            for c in range(probs.shape[1])]
    return _figure(data, dict(
        title=dict(text=html.escape(title, quote=False)), height=260,
        margin=dict(t=40, b=40, l=50, r=10),
        xaxis=dict(title=dict(text="GRU step t")), yaxis=dict(range=[0, 1]),
        showlegend=probs.shape[1] > 1, shapes=[_line(x0=t, x1=t, y0=0, y1=1, yref="paper")]))
