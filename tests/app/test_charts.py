"""The step charts are built from plain dicts without plotly.py's validation (they are redrawn at
every step); here they go through the validator once, so a misspelt property fails a test."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts
from gru_core import SYMBOLS


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_step_chart_is_valid_plotly_with_markers(notation):
    steps, units = list(range(40, 100)), 16
    df = pd.DataFrame({"t": steps, "token": ["a"] * len(steps), "keep": np.linspace(-1, 1, 60),
                       "new": np.zeros(60), "h": np.linspace(-1, 1, 60), "z": np.ones(60)})
    mats = {k: np.random.rand(units, len(steps)).astype(np.float32) for k in "rznh"}
    raw = charts.step_chart(df, mats, 57, 3, SYMBOLS[notation])
    fig = go.Figure(raw)  # raises on any unknown property or bad value
    assert [tr.type for tr in fig.data] == ["bar", "bar", "scatter", "scatter"] + ["heatmap"] * 4
    assert np.array_equal(raw["data"][0]["y"], df.keep.to_numpy())
    assert charts.step_markers(57, 3) == raw["layout"]["shapes"]  # what a step sends
    heat_axes = [tr.yaxis for tr in fig.data if tr.type == "heatmap"]
    assert heat_axes == ["y3", "y4", "y5", "y6"]
    assert all(tr.xaxis in (None, "x") for tr in fig.data)  # one time axis for all
    step_lines = [s for s in fig.layout.shapes if s.xref == "x"]
    unit_lines = [s for s in fig.layout.shapes if s.xref == "paper"]
    assert [(s.x0, s.x1) for s in step_lines] == [(57, 57)]  # through every panel
    assert sorted(s.yref for s in unit_lines) == heat_axes and {s.y0 for s in unit_lines} == {3}
    assert list(fig.layout.xaxis.ticktext)[0].startswith("a")  # the characters on the time axis
    # every axis and colour bar draws its labels as they are: Plotly's default measures each
    # label to hide those past the plot's edge, half of the chart's draw at every open
    axes = [fig.layout[k] for k in ("xaxis", "yaxis", *(f"yaxis{i}" for i in range(2, 7)))]
    bars = [fig.layout.coloraxis.colorbar, fig.layout.coloraxis2.colorbar]
    assert [a.ticklabeloverflow for a in axes + bars] == ["allow"] * 9


def test_prediction_chart_is_valid_plotly():
    pred = go.Figure(charts.prediction_chart([("a", 0.7), (" ", 0.2)], "next", "a").to_dict())
    assert list(pred.data[0].x) == [0.2, 0.7] and pred.data[0].marker.color[1] == charts.NEW


def test_holders_first_puts_the_first_unit_of_the_order_on_the_top_row():
    steps, units = list(range(10)), 6
    df = pd.DataFrame({"t": steps, "token": ["a"] * 10, "keep": np.zeros(10),
                       "new": np.zeros(10), "h": np.zeros(10), "z": np.ones(10)})
    mats = {k: np.random.rand(units, 10).astype(np.float32) for k in "rznh"}
    order = [4, 2, 0, 1, 3, 5]  # e.g. by mean z, the best holder (4) first
    raw = charts.step_chart(df, mats, 3, 4, SYMBOLS["pytorch"], order)
    fig = go.Figure(raw)
    for tr in (t for t in fig.data if t.type == "heatmap"):
        axis = fig.layout[tr.yaxis.replace("y", "yaxis")]
        assert axis.autorange == "reversed"  # row 0 drawn at the top
        assert int(tr.customdata[0][0]) == 4 and axis.ticktext[0] == "4"


def test_candidates_differ_in_colour_and_marker():
    series = {name: np.linspace(-1, 1, 5) for name in ("actual", "no reset", "lecture")}
    fig = go.Figure(charts.candidates([f"unit {u}" for u in range(5)], series, "t", "c̃"))
    colours = [tr.marker.color for tr in fig.data]
    symbols = [tr.marker.symbol for tr in fig.data]
    assert len(set(colours)) == 3 and len(set(symbols)) == 3
    assert fig.layout.yaxis.title.text == "c̃" and fig.layout.xaxis.title.text == "unit"


def test_what_if_axis_does_not_magnify_rounding_noise():
    import torch

    from gru_core.analysis.whatif import WhatIf

    h = torch.zeros(5, 3)
    wi = WhatIf(0, 1, 0, "z", 0.5, 0.5, range(0, 5), h, h + 1e-7, None, None)
    fig = go.Figure(charts.what_if_chart(wi, ["a"] * 5, SYMBOLS["pytorch"]))
    assert fig.layout.yaxis2.range[1] >= charts.DRIFT_FLOOR  # 1e-7 of drift looks like nothing
    big = WhatIf(0, 1, 0, "z", 0.5, 0.0, range(0, 5), h, h + 0.5, None, None)
    fig = go.Figure(charts.what_if_chart(big, ["a"] * 5, SYMBOLS["pytorch"]))
    assert fig.layout.yaxis2.range[1] >= float(big.drift.max())
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_what_if_right_axis_ticks_from_zero():
    """‖Δh‖ is a bar's height: its axis ticks from 0. An overlaying axis syncs its ticks to the
    left axis's grid by default (plotly.js's tickmode "sync"), which wrote 0.034, 0.372, …"""
    import torch

    from gru_core.analysis.whatif import WhatIf

    h = torch.zeros(5, 3)
    wi = WhatIf(0, 1, 0, "z", 0.5, 0.0, range(0, 5), h, h + torch.linspace(0.03, 1.3, 5)[:, None],
                None, None)
    right = go.Figure(charts.what_if_chart(wi, ["a"] * 5, SYMBOLS["pytorch"])).layout.yaxis2
    assert right.overlaying == "y" and right.tickmode == "auto" and right.range[0] == 0


@pytest.mark.parametrize("n", [60, 120, 1000])  # the stepper's window, the player's, offline
def test_a_hover_on_the_time_axis_names_its_step(n):
    """On an axis of ticks given as an array, a hover on a point at a tick prints the tick's
    own text: "w<br>75", two lines. The ticks sit a hair off the steps (beyond Plotly's
    tolerance, 1/10000 of the range; under half a pixel), so a hover prints the step number,
    which the axis aliases to "75 ('w')", the token escaped as the axis writes it."""
    steps = list(range(70, 70 + n))
    tokens = ["<" if t == 75 else chr(97 + t % 26) for t in steps]
    df = pd.DataFrame({"t": steps, "token": tokens, "keep": 0.0, "new": 0.0, "h": 0.0, "z": 0.5})
    mats = {k: np.zeros((4, n), np.float32) for k in "rznh"}
    axis = charts.step_chart(df, mats, 100, 1, SYMBOLS["course"])["layout"]["xaxis"]
    every = max(1, n // charts.TOKENS)
    off = np.asarray(axis["tickvals"]) - steps[::every]
    assert (off > (n + 1) / 1e4).all() and (off < 1 / 1000 * n).all()
    assert axis["hoverformat"] == "d" and set(axis["labelalias"]) == {str(t) for t in steps}
    assert axis["labelalias"]["75"] == "75 ('&lt;')" and axis["labelalias"]["76"] == "76 ('y')"


def test_unit_chart_of_the_screen_share_layout_is_valid_and_marks_t():
    steps = list(range(20, 80))
    df = pd.DataFrame({"t": steps, "token": ["a"] * 60, "keep": np.linspace(-1, 1, 60),
                       "new": np.linspace(1, 0, 60), "h": np.linspace(0, 1, 60),
                       "z": np.full(60, 0.25)})
    fig = charts.unit_chart(df, 33, 5, SYMBOLS["course"], 330)
    go.Figure(fig.to_dict())  # raises on any unknown property or bad value
    assert fig.layout.height == 330 and [s.x0 for s in fig.layout.shapes] == [33]
    keep, new, h, z = fig.data
    np.testing.assert_array_equal(keep.y, df.keep)
    np.testing.assert_array_equal(new.y + keep.y, df.new + df.keep)
    np.testing.assert_array_equal(z.y, df.z)
    assert "unit 5" in fig.layout.title.text


@pytest.mark.parametrize("n", [60, 120, 141])  # the stepper's window, the player's, a text
def test_time_axis_writes_every_token_and_thins_the_step_numbers(n):
    """Under the heatmaps a number under every token ran together ("8182838485…"): the tokens
    stay (every one up to 60 steps), the numbers are round and at most 12."""
    steps = list(range(80, 80 + n))
    df = pd.DataFrame({"t": steps, "token": [chr(97 + t % 26) for t in steps], "keep": 0.0,
                       "new": 0.0, "h": 0.0, "z": 0.5})
    mats = {k: np.zeros((4, n), np.float32) for k in "rznh"}
    axis = go.Figure(charts.step_chart(df, mats, 100, 1, SYMBOLS["pytorch"])).layout.xaxis
    every = 1 if n <= 60 else 2
    # at the steps, but a hair off them: see test_a_hover_on_the_time_axis_names_its_step
    np.testing.assert_allclose(axis.tickvals, steps[::every], atol=0.1)
    assert [label.split("<br>")[0] for label in axis.ticktext] == [
        chr(97 + t % 26) for t in steps[::every]]
    numbered = [int(label.split("<br>")[1]) for label in axis.ticktext if "<br>" in label]
    gaps = set(np.diff(numbered))
    assert len(gaps) == 1 and gaps.pop() in (5, 10, 20), numbered  # round, evenly spaced
    assert 3 <= len(numbered) <= 12 and all(t % 5 == 0 for t in numbered)


def test_legends_under_a_chart_sit_below_its_axis_title():
    """A legend placed at a fraction of the plot's height under it landed on "step (token)"
    once the ticks took two lines: the legends under charts sit at the figure's bottom edge,
    where Plotly reserves their height below the axis."""
    steps, tokens = range(10, 24), list("the old keeper")
    figs = [charts.unit_lines(steps, tokens, {"unit 3": np.zeros(14), "unit 5": np.ones(14)},
                              "h", span=(12, 16)),
            charts.pair_lines(steps, tokens, {3: (np.zeros(14), np.ones(14))}, "pair"),
            charts.candidates(["3", "5"], {"a": [0, 1]}, "c")]
    for fig in figs:
        legend = go.Figure(fig.to_dict()).layout.legend  # valid Plotly too
        assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_saturation_scatter_says_what_its_axes_hold(notation):
    """x: the share of steps below 0.1, y: above 0.9; the title said "near 0 (left) vs near 1
    (right)". The dotted diagonal (never grey) bounds every dot from above."""
    import torch

    from gru_core import recompute, saturation

    from ..conftest import make_gru
    gates = ("r", "u") if notation == "course" else ("r", "z")
    df = saturation(recompute(make_gru(scale=4.0), torch.randn(50, 5)), 0.1, 0.9, gates)
    fig = charts.saturation_scatter(df, SYMBOLS[notation])  # a validated go.Figure
    title = fig.layout.title.text
    assert "left" not in title and "right" not in title
    assert "across, below 0.1" in title and "up, above 0.9" in title
    assert "below 0.1" in fig.layout.xaxis.title.text
    assert "above 0.9" in fig.layout.yaxis.title.text
    *dots, diagonal = fig.data
    assert [d.name for d in dots] == [SYMBOLS[notation][g] for g in sorted(gates)]
    assert diagonal.name.startswith("never grey") and diagonal.line.dash == "dot"
    for d in dots:  # on or under x + y = 1, as the caption says
        assert (np.asarray(d.x) + np.asarray(d.y) <= 1 + 1e-12).all()
        assert (np.asarray(d.x) + np.asarray(d.y) > 0.5).any()  # saturated: some near it


def test_log_axes_write_powers_of_ten_and_every_retention_bar_shows():
    """SI prefixes (1μ, 100p, 1f) read as symbols: every log axis writes 10⁻⁶. A unit that kept
    less than the axis's floor had no bar at all; it is drawn at the floor, hatched, and says so
    in its hover and the chart's subtitle."""
    ret = np.array([0.9, 0.3, 2e-3, 5e-7, 1.6e-36, 0.0])
    fig = go.Figure(charts.retention_bars(ret, [0], "∏z", unit=1, holds=0.5,
                                          rewritten=0.01).to_dict())
    bottom = 10 ** fig.layout.yaxis.range[0]
    bar = fig.data[0]
    drawn = np.asarray(charts.retention_bars(ret, [0], "∏z").data[0].y, dtype=float)
    assert (drawn > bottom).all()  # every bar rises above the axis's bottom
    assert np.array_equal(drawn, np.maximum(ret, charts.FLOOR))  # the others: their own value
    assert list(bar.marker.pattern.shape) == ["", "", "", "/", "/", "/"]
    notes = [row[1] for row in charts.retention_bars(ret, [0], "∏z").data[0].customdata]
    assert notes[:3] == ["", "", ""] and all("below 10⁻⁶: drawn at the floor" in n
                                             for n in notes[3:])
    assert "3 units kept less than 10⁻⁶: drawn at the floor, hatched" in fig.layout.title.text
    assert "hatched" not in charts.retention_bars(ret[:3], [0], "∏z").layout.title.text
    n = np.arange(1, 6)
    flow = go.Figure(charts.gradient_flow(n, 0.5 ** n, 0.9 ** n, 0.99 ** n, SYMBOLS["course"],
                                          rnn=0.4 ** n).to_dict())
    axes = [fig.layout.yaxis, flow.layout.yaxis, flow.layout.yaxis2]
    assert [(a.type, a.exponentformat) for a in axes] == [("log", "power")] * 3
