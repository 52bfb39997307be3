"""A Plotly chart that stays drawn while the user steps: moving t moves only its marker lines.

st.plotly_chart makes every changed figure a new element, so the browser draws the whole step
chart again at each step (four heatmaps, the balance bars, a hundred tick labels). This component
keeps one plot and, while `revision` is unchanged, only relayouts the shapes. It also reports
clicks on heatmap cells, which st.plotly_chart's selections do not support.

A components-v2 element (live_chart/chart.html, .css, .js): drawn in the page itself, no
iframe, with Streamlit's trigger values for its events (a click, the player, a frame that has
no figure yet). Its DOM is the page's, not a shadow root's: Plotly puts its styles in the
document's head.

Which plotly.js: the cartesian bundle of the version the plotly package ships (its bar, scatter
and heatmap traces are all the chart and the cell draw; tests/app/test_example.py checks both),
kept beside chart.js with its licence (from npm's plotly.js-cartesian-dist-min): the smallest
bundle that draws these traces, evaluated on the page's main thread before the first draw.
It is loaded as a script from the app's static folder (dashboard/static/, which Streamlit serves
with an ETag and Last-Modified: the browser fetches it once and keeps it), not inlined in the
component's JS: Streamlit sends a component's JS with every rerun, and a 1.5 MB inline script
would also hold the first paint while it is parsed. Where static serving is off, the figure
carries the bundle instead (once per figure sent).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

import plotly.io as pio
import streamlit as st
from streamlit import config

HERE = Path(__file__).parent / "live_chart"
SENT = "live_chart_sent:"  # session_state key prefix: the revision each chart last sent
STREAMLIT_JS = Path(st.__file__).parent / "static" / "static" / "js"
STATIC = Path(__file__).parent / "static"  # Streamlit's app static folder: next to app.py
PLOTLY_JS = HERE / "plotly-cartesian.min.js"
PLOTLY_URL = "app/static/plotly.min.js"  # under the app's root URL
KATEX_JS = Path(__file__).parent / "katex" / "katex.min.js"  # the vendored KaTeX (katex/)
KATEX_URL = "app/static/katex.min.js"
# chart.js as the page gets it, in every element's data at every rerun: its comment lines,
# which are for the reader of the source, are left out
JS = "\n".join(line for line in (HERE / "chart.js").read_text().splitlines()
                if not line.lstrip().startswith("//"))


def _static(name: str, source: Path) -> bool:
    """`source` as dashboard/static/`name` (the app's static folder, a build output: ignored
    by git), where Streamlit's static serving is on; False where it is off or the folder cannot
    be written (then the data sent carries the script)."""
    if not config.get_option("server.enableStaticServing"):
        return False
    target = STATIC / name
    try:
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            STATIC.mkdir(exist_ok=True)
            partial_copy = target.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(source, partial_copy)
            os.replace(partial_copy, target)  # atomic: another replica never serves half
    except OSError:
        return False
    return True


def _static_plotly() -> bool:
    return _static("plotly.min.js", PLOTLY_JS)


# The elements the other views show and the stepper does not (its prediction is its own
# element, not a DataFrame): Streamlit's frontend fetches an element's code the first time a
# page shows one, after the click that opens the view.
ELEMENTS = ("PlotlyChart", "DataFrame", "Metric", "Spinner", "TextInput",
            "StreamlitSyntaxHighlighter")


def _chunks() -> list[str]:
    """The file names of Streamlit's code for ELEMENTS (PlotlyChart is 4.7 MB), each where this
    Streamlit has exactly one such file. The chart imports them once it is drawn and the page
    is idle, so the first view that shows one does not wait for it (chart.js, preload)."""
    found = [sorted(STREAMLIT_JS.glob(f"{name}.*.js")) for name in ELEMENTS]
    return [files[0].name for files in found if len(files) == 1]


_component = st.components.v2.component(
    "live_chart", html=(HERE / "chart.html").read_text(), css=(HERE / "chart.css").read_text(),
    js=JS, isolate_styles=False)
_card_component = st.components.v2.component(
    "live_card", html='<div class="gru-card"></div>', js=JS,
    isolate_styles=False)  # the same script as the chart's: one module, which all share
_cell_component = st.components.v2.component(
    "live_cell", html='<div class="gru-cell" aria-live="polite"></div>',
    js=JS, isolate_styles=False)
_prediction_component = st.components.v2.component(
    "live_prediction", html='<div class="gru-pred"></div>', css=(HERE / "chart.css").read_text(),
    js=JS, isolate_styles=False)
_PRELOAD = _chunks()


def live_chart(figure: Callable[[], dict], revision: str, shapes: list[dict], config: dict,
               key: str, on_click: Callable[[dict], None] | None = None,
               player: dict | None = None, on_play: Callable[[dict], None] | None = None
               ) -> None:
    """Draw figure() in a chart that stays drawn. While `revision` is the same as last time,
    only `shapes` are sent and moved, and figure() is not even called; the figure is built and
    sent when the revision changes (or when the chart is new in the page and asks for it).
    on_click gets {"t", "unit" (None outside a heatmap), "at"} for a click on the chart.

    With `player` ({"t", "T", "playing", "speed"}) the chart shows play/pause: it steps
    through figure()["steps"] ([{"t", "line"}], the card line of each step it holds) on its
    own, moving the step line without a server round trip, and calls on_play with
    {"t", "playing"} when it pauses, needs the next window, or a key moved the step; the cell
    (live_cell), wherever the page draws it, shows the step the player shows."""
    sent, same = _sent(key, revision)
    static = _static_plotly()
    _component(key=key, data={
        "spec": None if same else pio.to_json(figure(), validate=False),
        "shapes": pio.json.to_json_plotly(shapes), "revision": revision,
        "config": pio.json.to_json_plotly(config), "clicks": on_click is not None,
        "player": player, "preload": _PRELOAD,
        "plotly_url": PLOTLY_URL if static else None,
        "plotly_js": None if static or same else PLOTLY_JS.read_text()},
        on_click_change=partial(_event, key, "click", on_click),
        on_play_change=partial(_event, key, "play", on_play),
        on_missing_change=partial(_missing, key, sent))


def _sent(key: str, revision: str) -> tuple[str, bool]:
    """The session_state key that remembers what the element `key` was last sent, and whether
    that was `revision` (then its data need not be sent again); `revision` is remembered."""
    sent = SENT + key
    same = st.session_state.get(sent) == revision
    st.session_state[sent] = revision
    return sent, same


def forget_sent() -> None:
    """Every chart is taken as not shown: the next live_chart() sends its figure in that run.
    For a page that draws no live chart (another view, the questions page), whose chart the
    browser removes: a chart drawn when the reader comes back is new, and asking would cost a
    round trip."""
    for key in [k for k in st.session_state if str(k).startswith(SENT)]:
        del st.session_state[key]


def _event(key: str, name: str, then: Callable[[dict], None] | None) -> None:
    value = st.session_state[key].get(name)
    if value is not None and then is not None:
        then(value)


def _missing(key: str, sent: str) -> None:
    """The chart is new in the page and has no figure: send the whole figure on this rerun."""
    if st.session_state[key].get("missing") is not None:
        st.session_state.pop(sent, None)


def live_card(cards: Callable[[], list[dict]], revision: str, t: int, key: str) -> None:
    """The cards of a window of steps (cards(): dashboard/views/stepper/cards.py's parts, by
    step), for the browser: when ◀ ▶, ← → or the slider move to a step it holds, the card at t
    drawn just before this element (the block keyed card_server) is replaced by that step's at
    once, until the server's card reaches it. cards() is called, and sent, only when the
    revision changes. KaTeX, which typesets the equations in the browser as Streamlit's
    Markdown does, is the vendored katex/ (its version: katex/README.md), loaded once per page
    from the static folder, after the chart."""
    sent, same = _sent(key, revision)
    static = _static("katex.min.js", KATEX_JS)
    _card_component(key=key, data={
        "t": t, "revision": revision, "cards": None if same else cards(),
        "katex_url": KATEX_URL if static else None,
        "katex_js": None if static or same else KATEX_JS.read_text()},
        on_missing_change=partial(_missing, key, sent))


def live_cell(figure: Callable[[], dict], revision: str, t: int, config: dict, key: str
              ) -> None:
    """The GRU cell at t where this is called: figure() is {"cell": a Plotly figure
    (dashboard/views/stepper/cell.py), "steps": [{"t", "labels": {annotation name: text}}]}
    for a window of steps, sent when the revision changes. The chart's player, ◀ ▶, the keys
    and the slider rewrite its labels with a step's at once (chart.js, showCell); the
    server's t, when it is drawn, otherwise."""
    sent, same = _sent(key, revision)
    static = _static_plotly()
    _cell_component(key=key, data={
        "t": t, "revision": revision, "config": pio.json.to_json_plotly(config),
        "spec": None if same else pio.to_json(figure(), validate=False),
        "plotly_url": PLOTLY_URL if static else None,
        "plotly_js": None if static or same else PLOTLY_JS.read_text()},
        on_missing_change=partial(_missing, key, sent))


def live_prediction(steps: Callable[[], list[dict]], revision: str, t: int, key: str) -> None:
    """The next-token prediction at t where this is called, drawn in the browser from the
    parts of each step of a window (steps(): dashboard/views/stepper/prediction.py), sent when
    the revision changes: ◀ ▶, the keys, the slider and the player show a step's at once."""
    sent, same = _sent(key, revision)
    _prediction_component(key=key, data={"t": t, "revision": revision,
                                         "spec": None if same else json.dumps(steps())},
                          on_missing_change=partial(_missing, key, sent))
