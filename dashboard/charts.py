"""Plotly figures. Each takes plain data and labels and returns a go.Figure; no model math here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

KEEP, NEW, H, Z = "#4C78A8", "#F58518", "#222222", "#54A24B"
CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def show_char(c: str) -> str:
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(c, c)


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain dicts, without plotly.py's property validation: the charts redrawn at
    every step would spend more time being validated than being drawn (tests render them all)."""
    return go.Figure(data=data, layout=layout, _validate=False)


def _char_ticks(steps, chars, numbers: bool = True) -> dict:
    """Characters (and step numbers) as ticks; a categorical axis would merge repeated ones."""
    every = max(1, len(steps) // 60)
    labels = [f"{show_char(c)}<br>{t}" if numbers else show_char(c)
              for t, c in zip(steps, chars, strict=True)]
    return dict(tickmode="array", tickvals=list(steps)[::every], ticktext=labels[::every],
                tickangle=0)


def _char_axis(fig: go.Figure, steps, chars, numbers: bool = True) -> None:
    fig.update_xaxes(**_char_ticks(steps, chars, numbers))


def balance_chart(df: pd.DataFrame, t: int, sym: dict[str, str]) -> go.Figure:
    t_ = df.t.to_numpy()
    data = [
        dict(type="bar", x=t_, y=df.keep.to_numpy(), name=f"kept: {sym['keep']}",
             marker=dict(color=KEEP)),
        dict(type="bar", x=t_, y=df.new.to_numpy(), name=f"new: {sym['new']}",
             marker=dict(color=NEW)),
        dict(type="scatter", x=t_, y=df.h.to_numpy(), name=f"{sym['h']} = kept + new",
             mode="lines+markers", line=dict(color=H, width=2), marker=dict(size=5)),
        dict(type="scatter", x=t_, y=df.z.to_numpy(), name=sym["z"], mode="lines", yaxis="y2",
             line=dict(color=Z, dash="dot")),
    ]
    return _figure(data, dict(
        shapes=_marker_lines(t, None, [("x", "y")]), barmode="relative", height=360,
        margin=dict(t=40, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.25),
        title=dict(text=f"Where {sym['h']} comes from: kept from the old state vs taken from "
                   "the candidate"),
        xaxis=_char_ticks(t_, df.char),
        yaxis=dict(title=dict(text="value")),
        yaxis2=dict(title=dict(text=sym["z"]), overlaying="y", side="right", range=[0, 1.02],
                    tickmode="linear", tick0=0, dtick=0.25, showgrid=False)))


def _marker_lines(t: int, unit: int | None, cells: list[tuple[str, str]]) -> list[dict]:
    """Shapes for the current step (and unit) on each (xaxis, yaxis) pair."""
    line = dict(color="#e600e6", width=2)  # magenta: visible on Viridis and on RdBu alike
    shapes = []
    for xa, ya in cells:
        shapes.append(dict(type="line", xref=xa, yref=f"{ya} domain", x0=t, x1=t, y0=0, y1=1,
                           line=line))
        if unit is not None:
            shapes.append(dict(type="line", xref=f"{xa} domain", yref=ya, x0=0, x1=1, y0=unit,
                               y1=unit, line=line))
    return shapes


# 2 x 2 grid: (x domain, y domain) per cell, r z on top, n h below, with small gaps
_GRID = [((0, 0.485), (0.54, 1)), ((0.515, 1), (0.54, 1)),
         ((0, 0.485), (0, 0.46)), ((0.515, 1), (0, 0.46))]


def heatmaps(steps, chars, mats: dict[str, np.ndarray], t: int, unit: int,
             titles: dict[str, str], clickable: bool = False) -> go.Figure:
    """r, z (0..1) and n, h (−1..1) over (unit × step), 2 × 2; the current step and unit marked.

    Plotly reports no clicks on heatmaps, so with clickable=True an invisible WebGL scatter with
    one point per cell takes them. It is optional because every step redraws the figure, and a
    WebGL context costs more to set up than everything else on the page.
    """
    steps = np.asarray(steps)
    data, layout, axes = [], {}, []
    for i, (name, (x_dom, y_dom)) in enumerate(zip(mats, _GRID, strict=True)):
        k = "" if i == 0 else str(i + 1)
        xa, ya = f"x{k}", f"y{k}"
        axes.append((xa, ya))
        heat = dict(type="heatmap", z=mats[name], x=steps, xaxis=xa, yaxis=ya,
                    coloraxis="coloraxis" if i < 2 else "coloraxis2",
                    hovertemplate=f"{titles[name]} = %{{z:.4f}}<br>t = %{{x}}, "
                    "unit = %{y}<extra></extra>")
        data.append(heat)
        if clickable:
            heat["hoverinfo"] = "skip"
            data.append(_click_targets(steps, mats[name], titles[name], xa, ya))
        bottom, left = i >= 2, i % 2 == 0
        layout[f"xaxis{k}"] = dict(domain=x_dom, anchor=ya, showticklabels=bottom,
                                   **_char_ticks(steps, chars, False),
                                   title=dict(text="character read at each step (hover for t)"
                                              if bottom else ""))
        layout[f"yaxis{k}"] = dict(domain=y_dom, anchor=xa, showticklabels=left,
                                   title=dict(text="unit" if left else ""))
        if i:  # zooming one heatmap zooms all four
            layout[f"xaxis{k}"]["matches"], layout[f"yaxis{k}"]["matches"] = "x", "y"
    layout.update(
        height=760, margin=dict(t=60, b=10, l=10, r=10), shapes=_marker_lines(t, unit, axes),
        title=dict(text="Every unit at the steps around t (magenta lines: current step and unit)"),
        annotations=[dict(text=titles[name], x=sum(x_dom) / 2, y=y_dom[1], xref="paper",
                          yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                          font=dict(size=16))
                     for name, (x_dom, y_dom) in zip(mats, _GRID, strict=True)],
        coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1,
                       colorbar=dict(title=dict(text="gate"), y=0.78, len=0.42)),
        coloraxis2=dict(colorscale="RdBu", cmin=-1, cmax=1,
                        colorbar=dict(title=dict(text="value"), y=0.22, len=0.42)))
    return _figure(data, layout)


def _click_targets(steps: np.ndarray, values: np.ndarray, title: str, xa: str, ya: str) -> dict:
    n_units = values.shape[0]
    return dict(type="scattergl", x=np.tile(steps.astype(np.int32), n_units),
                y=np.repeat(np.arange(n_units, dtype=np.int16), len(steps)), xaxis=xa, yaxis=ya,
                mode="markers", showlegend=False, marker=dict(size=6, opacity=0),
                customdata=values.ravel(), hovertemplate=f"{title} = %{{customdata:.4f}}<br>"
                "t = %{x}, unit = %{y}<extra></extra>")


def prediction_chart(top: list[tuple[str, float]], title: str, actual: str | None = None
                     ) -> go.Figure:
    labels = [repr(show_char(c)) for c, _ in top][::-1]
    colors = [KEEP if c != actual else NEW for c, _ in top][::-1]
    probs = [p for _, p in top][::-1]
    return _figure(
        [dict(type="bar", x=probs, y=labels, orientation="h", marker=dict(color=colors),
              text=[f"{p:.1%}" for p in probs])],
        dict(title=dict(text=title), height=260, margin=dict(t=40, b=10, l=10, r=10),
             xaxis=dict(range=[0, 1], tickformat=".0%")))


GATE_COLORS = ("#E45756", "#54A24B")  # r, z


def saturation_histogram(hists: dict[str, pd.DataFrame], low: float, high: float) -> go.Figure:
    fig = go.Figure()
    for color, (name, df) in zip(GATE_COLORS, hists.items(), strict=True):
        fig.add_bar(x=(df.left + df.right) / 2, y=df.share, name=name, opacity=0.6,
                    width=(df.right - df.left), marker_color=color)
    for x in (low, high):
        fig.add_vline(x=x, line=dict(color="gray", dash="dash"))
    fig.update_layout(barmode="overlay", height=320, title="How often each gate value occurs",
                      xaxis_title="gate value", yaxis_title="share of (step, unit) values",
                      margin=dict(t=40, b=10, l=10, r=10))
    return fig


def saturation_scatter(df: pd.DataFrame, sym: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for color, (gate, part) in zip(GATE_COLORS, df.groupby("gate"), strict=True):
        fig.add_scatter(x=part.left, y=part.right, mode="markers", name=sym[gate],
                        marker_color=color,
                        text=[f"unit {u}" for u in part.unit], opacity=0.7,
                        hovertemplate="%{text}<br>left %{x:.0%}<br>right %{y:.0%}<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[1, 0], mode="lines", line=dict(color="gray", dash="dot"),
                    showlegend=False, hoverinfo="skip")
    fig.update_layout(height=380, title="Per unit: time spent near 0 (left) vs near 1 (right)",
                      xaxis=dict(title="fraction of steps < low", range=[0, 1]),
                      yaxis=dict(title="fraction of steps > high", range=[0, 1]),
                      margin=dict(t=40, b=10, l=10, r=10))
    return fig


def retention_bars(ret, top_units: list[int], sym_z: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(range(len(ret))), y=ret,
                           marker_color=[NEW if u in top_units else KEEP for u in range(len(ret))]))
    fig.update_layout(height=300, title=f"Retention per unit: product of {sym_z} over the span",
                      xaxis_title="unit", yaxis=dict(title="share of the old value kept (log)",
                                                     type="log", range=[-6, 0.05]),
                      margin=dict(t=40, b=10, l=10, r=10))
    return fig


def unit_lines(steps, chars, series: dict[str, object], title: str, span=None) -> go.Figure:
    fig = go.Figure()
    for name, ys in series.items():
        fig.add_scatter(x=list(steps), y=ys, mode="lines+markers", name=name, marker=dict(size=4))
    if span is not None:
        fig.add_vrect(x0=span[0], x1=span[1], fillcolor="gold", opacity=0.15, line_width=0)
    fig.update_layout(height=340, title=title, yaxis_title="h", margin=dict(t=40, b=10, l=10, r=10),
                      legend=dict(orientation="h", y=-0.25))
    _char_axis(fig, steps, chars)
    return fig


def pair_lines(steps, chars, pairs: dict[int, tuple], title: str) -> go.Figure:
    """Per unit, h for the singular (solid) and the plural (dashed) sentence, in one colour."""
    fig = go.Figure()
    for color, (unit, (sg, pl)) in zip((KEEP, NEW, Z), pairs.items(), strict=False):
        fig.add_scatter(x=list(steps), y=sg, name=f"unit {unit}, singular", mode="lines+markers",
                        line=dict(color=color), marker=dict(size=4))
        fig.add_scatter(x=list(steps), y=pl, name=f"unit {unit}, plural", mode="lines+markers",
                        line=dict(color=color, dash="dash"), marker=dict(size=4, symbol="x"))
    fig.update_layout(height=340, title=title, yaxis_title="h", margin=dict(t=40, b=10, l=10, r=10),
                      legend=dict(orientation="h", y=-0.25))
    _char_axis(fig, steps, chars)
    return fig


def gradient_flow(distance, norms, z_mean, z_max, sym_z: str) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=distance, y=norms, mode="lines+markers", name="‖∂h_t/∂h_s‖ (Frobenius)",
                    line=dict(color=H), marker=dict(size=4))
    fig.add_scatter(x=distance, y=z_max, mode="lines", line=dict(color=Z),
                    name=f"direct path: max over units of ∏{sym_z}")
    fig.add_scatter(x=distance, y=z_mean, mode="lines", name=f"direct path: mean of ∏{sym_z}",
                    line=dict(color=Z, dash="dot"))
    fig.update_layout(height=380, title="How much of a change at step s still reaches step t",
                      xaxis_title="distance t − s (steps back)", yaxis=dict(type="log"),
                      margin=dict(t=40, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.25))
    return fig


def candidates(units, series: dict[str, object], title: str) -> go.Figure:
    fig = go.Figure()
    for name, ys in series.items():
        fig.add_scatter(x=list(units), y=ys, mode="markers", name=name, marker=dict(size=7))
    fig.update_layout(height=340, title=title, xaxis_title="unit", yaxis=dict(range=[-1.05, 1.05]),
                      margin=dict(t=40, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.25))
    return fig
