"""The step charts are built from plain dicts without plotly.py's validation (they are redrawn at
every step); here they go through the validator once, so a misspelt property fails a test."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts
from gru_core.notation import SYMBOLS


@pytest.mark.parametrize("clickable", [False, True])
def test_heatmaps_are_valid_plotly_with_markers(clickable):
    steps, units = list(range(40, 100)), 16
    mats = {k: np.random.rand(units, len(steps)).astype(np.float32) for k in "rznh"}
    fig = charts.heatmaps(steps, ["a"] * len(steps), mats, 57, 3, SYMBOLS["pytorch"], clickable)
    valid = go.Figure(fig.to_dict())  # raises on any unknown property or bad value
    kinds = [tr.type for tr in valid.data]
    assert kinds.count("heatmap") == 4 and kinds.count("scattergl") == (4 if clickable else 0)
    lines = valid.layout.shapes
    assert {s.x0 for s in lines if s.x0 == s.x1} == {57}  # the step, on every heatmap
    assert {s.y0 for s in lines if s.y0 == s.y1 and s.yref[0] == "y" and "domain" not in s.yref
            } == {3}  # the unit


def test_balance_and_prediction_charts_are_valid_plotly():
    df = pd.DataFrame({"t": [3, 4, 5], "char": list("abc"), "keep": [0.1, 0.2, 0.3],
                       "new": [0.5, -0.2, 0.0], "h": [0.6, 0.0, 0.3], "z": [0.2, 0.5, 1.0]})
    raw = charts.balance_chart(df, 4, SYMBOLS["course"])
    fig = go.Figure(raw.to_dict())
    assert [tr.type for tr in fig.data] == ["bar", "bar", "scatter", "scatter"]
    assert list(raw.data[0].y) == [0.1, 0.2, 0.3] and fig.layout.shapes[0].x0 == 4
    pred = go.Figure(charts.prediction_chart([("a", 0.7), (" ", 0.2)], "next", "a").to_dict())
    assert list(pred.data[0].x) == [0.2, 0.7] and pred.data[0].marker.color[1] == charts.NEW
