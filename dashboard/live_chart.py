"""A Plotly chart that stays mounted while the user steps: moving t moves only its marker lines.

st.plotly_chart makes every changed figure a new element, so the browser draws the whole step
chart again at each step (four heatmaps, the balance bars, a hundred tick labels). This component
keeps one plot in an iframe and, while `revision` is unchanged, only relayouts the shapes. It also
reports clicks on heatmap cells, which st.plotly_chart's selections do not support.

Its frontend is live_chart/index.html plus plotly.js, copied together into a folder this
process creates for itself (see _frontend), and served to the frame as plotly.min.js.

Which plotly.js: the cartesian bundle of the version the plotly package ships (its bar, scatter
and heatmap traces are all the chart and the cell draw; tests/app/test_example.py checks both), kept
beside index.html with its licence (from npm's plotly.js-cartesian-dist-min). A frame
evaluates the bundle before it can draw, on the page's main thread, in every forum reader's
first click: the smallest bundle that draws these traces is the one to ship
(bench/open_breakdown.py times it).

plotly.js is loaded by each new frame of the chart: every reopened link (a view that
does not show the chart keeps its frame mounted, hidden: keep_mounted). Streamlit serves a
component's files with no validator, so the browser fetched it again each time (and the server
gzipped it again, on its event loop).
Where the app's static serving is on (.streamlit/config.toml), the frame loads it from
dashboard/static/ instead, which Streamlit serves with an ETag and Last-Modified: the browser
keeps it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import plotly.io as pio
import streamlit as st
import streamlit.components.v1 as components
from streamlit import config

HERE = Path(__file__).parent / "live_chart"
SENT = "live_chart_sent:"  # session_state key prefix: the revision each chart last sent
STREAMLIT_JS = Path(st.__file__).parent / "static" / "static" / "js"
STATIC = Path(__file__).parent / "static"  # Streamlit's app static folder: next to app.py
PLOTLY_JS = HERE / "plotly-cartesian.min.js"


def _frontend() -> Path:
    """A folder with index.html and plotly.min.js side by side, made by this process for
    itself (mkdtemp: a fresh name, mode 0700) and removed when it exits. Never a folder found
    in the shared temp directory: whatever is in it runs in every visitor's page, on the app's
    origin. Copying plotly.js (1.5 MB) once per process is the price of that."""
    folder = Path(tempfile.mkdtemp(prefix="gru-stepper-live-chart-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    html = (HERE / "index.html").read_text()
    if _static_plotly():  # the frame is /component/<name>/index.html; /app/static/ is two up
        html = html.replace('src="plotly.min.js"', 'src="../../app/static/plotly.min.js"')
    (folder / "index.html").write_text(html)
    shutil.copyfile(PLOTLY_JS, folder / "plotly.min.js")
    return folder


def _static_plotly() -> bool:
    """plotly.min.js in dashboard/static/ (the app's static folder, a build output: ignored by
    git), where Streamlit's static serving is on; False where it is off or the folder cannot be
    written (then the frame loads its own copy)."""
    if not config.get_option("server.enableStaticServing"):
        return False
    target = STATIC / "plotly.min.js"
    try:
        if not target.is_file() or target.stat().st_size != PLOTLY_JS.stat().st_size:
            STATIC.mkdir(exist_ok=True)
            partial_copy = target.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(PLOTLY_JS, partial_copy)
            os.replace(partial_copy, target)  # atomic: another replica never serves half
    except OSError:
        return False
    return True


def _plotly_chunk() -> str | None:
    """The file name of Streamlit's own Plotly code (its frontend loads it, 4.7 MB, when a page
    first shows an st.plotly_chart), or None where this Streamlit has no one such file. The
    chart's frame imports it into the page once the chart is drawn and the page is idle, so
    that the first view with an st.plotly_chart does not wait for it (index.html, preload)."""
    found = sorted(STREAMLIT_JS.glob("PlotlyChart.*.js"))
    return found[0].name if len(found) == 1 else None


_component = components.declare_component("live_chart", path=str(_frontend()))
_PRELOAD = _plotly_chunk()


def live_chart(figure: Callable[[], dict], revision: str, shapes: list[dict], config: dict,
               key: str, on_click: Callable[[dict], None] | None = None,
               player: dict | None = None, on_play: Callable[[dict], None] | None = None
               ) -> None:
    """Draw figure() in a chart that stays mounted. While `revision` is the same as last time,
    only `shapes` are sent and moved, and figure() is not even called; the figure is built and
    sent when the revision changes (or when the frame is new and asks for it). on_click gets
    {"t", "unit" (None outside a heatmap), "at"} for a click on the chart.

    With `player` ({"t", "T", "playing", "speed"}) the chart shows play/pause: it steps
    through figure()["steps"] ([{"t", "line"}], the card line of each step it holds) on its
    own, moving the step line without a server round trip, and calls on_play with
    {"t", "playing"} when it pauses or needs the next window. With figure()["cell"] (a Plotly
    figure: dashboard/views/stepper/cell.py) the cell is drawn below the chart, and each step's
    "cell" ({annotation name: text}) is written into it as the player shows that step."""
    sent = SENT + key
    same = st.session_state.get(sent) == revision
    st.session_state[sent] = revision
    _component(spec=None if same else pio.to_json(figure(), validate=False),
               shapes=pio.json.to_json_plotly(shapes), revision=revision,
               config=json.dumps(config), clicks=on_click is not None, key=key,
               player=None if player is None else json.dumps(player), preload=_PRELOAD,
               hidden=False, on_change=partial(_answer, key, sent, on_click, on_play),
               default=None)


def keep_mounted(key: str) -> None:
    """On a page that does not show the chart (another view): its frame stays mounted, hidden,
    with the figure it holds, so that going back redraws nothing and loads no plotly.js. Call
    it as the page's last element: Streamlit's frontend keeps a keyed element's frame only
    while no element before it moves back from a later place, and a frame moved in the DOM
    reloads. Nothing is drawn for a chart this session has not shown."""
    sent = SENT + key
    if sent not in st.session_state:
        return
    _component(spec=None, shapes="[]", revision=st.session_state[sent], config="{}",
               clicks=False, key=key, player=None, preload=None, hidden=True,
               on_change=partial(_answer, key, sent, None, None), default=None)


def forget_sent() -> None:
    """Every chart is taken as not shown: the next live_chart() sends its figure in that run.
    For a page that draws no live chart and keeps none mounted (the questions page), whose
    frames the browser removes: a frame drawn when the reader comes back is new, and asking
    would cost a round trip."""
    for key in [k for k in st.session_state if str(k).startswith(SENT)]:
        del st.session_state[key]


def _answer(key: str, sent: str, on_click: Callable[[dict], None] | None,
            on_play: Callable[[dict], None] | None) -> None:
    value = st.session_state[key]
    if value and "missing" in value:  # a new frame: send the whole figure on this rerun
        st.session_state.pop(sent, None)
    elif value and "playing" in value:
        if on_play is not None:
            on_play(value)
    elif value and on_click is not None:
        on_click(value)
