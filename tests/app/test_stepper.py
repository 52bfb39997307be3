"""The stepper's first screen: the cell drawn on first load with its gates named, the course
notation on every label, heatmap rows said as drawn, and nothing cut sideways in Chromium."""

import json
import os
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from streamlit.testing.v1 import AppTest

from ..browser import CHROMIUM, settle
from ..conftest import ROOT

APP = str(ROOT / "dashboard/app.py")
SPEECH = "To be, or not to be, that is the question."
PASSAGE = ("ALONSO:\nGood boatswain, have care. Where's the master?\nPlay the men.\n\n"
           "Boatswain:\nI pray now, keep below.\n")  # six lines, tinyshakespeare's last tenth
COURSE = "The cats, which already ate the fish, were full."
GATES = ("reset gate", "update gate", "candidate", "new state")
# PyTorch's names, as whole words: none may label the stepper in the course's notation
PYTORCH = re.compile(r"(?<![\w⟨\\])(h_prev|hn|z|n|h_n|mean z)(?![\w⟩(])")


def open_stepper(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    assert not at.exception
    return at


def chart_spec(at, name: str = "live_chart") -> dict:
    """What the live chart (or, with name="live_cell", the cell beside the card) was sent."""
    return next(json.loads(json.loads(c.proto.json)["spec"]) for c in at.get("bidi_component")
                if c.proto.component_name == name)


def _outside_math(md: str) -> str:
    """Markdown without its $…$ spans (the card's LaTeX, export.py's, is read separately)."""
    return re.sub(r"\$[^$]*\$", " ", md)


def _not_about_pytorch(text: str) -> list[str]:
    """The sentences of `text` that do not say they are about PyTorch, without Plotly's
    placeholders (%{z}) and quoted tokens ('n', the text's own letters)."""
    text = re.sub(r"%\{[^}]*\}|'[^']*'|`[^`]*`", " ", text)
    return [s for s in re.split(r"(?<=[.;:])\s+", text) if "PyTorch" not in s]


def _labels(spec: dict, cell: dict) -> list[str]:
    """Every word the chart and the cell draw: titles, axis titles, legends, hovers, labels."""
    lay, out = spec["layout"], [spec["layout"]["title"]["text"]]
    out += [v["title"]["text"] for k, v in lay.items() if k.startswith("yaxis")]
    out += [d.get("name", "") + d.get("hovertemplate", "") for d in spec["data"]]
    out += [a["text"] for a in cell["cell"]["layout"]["annotations"]]
    out += [f["line"] for f in spec["steps"]] + [t for f in cell["steps"]
                                                 for t in f["labels"].values()]
    return out


@pytest.mark.parametrize("ckpt", ["shakespeare", "agreement-course"])
def test_course_notation_has_no_pytorch_names_on_the_stepper(ckpt):
    at = open_stepper(ckpt=ckpt, text=SPEECH if ckpt == "shakespeare" else COURSE, t=12,
                      unit=17 if ckpt == "shakespeare" else 3, notation="course")
    shown = [_outside_math(m.value) for m in at.markdown[1:]]  # [0]: the reader's own text
    shown += [c.value for c in at.caption] + [h.value for h in at.subheader]
    shown += [e.label for e in at.expander] + [b.label for b in at.button]
    shown += [s.label for s in at.selectbox] + [o for s in at.selectbox for o in s.options]
    shown += [i.value for i in at.info if not i.value.startswith("**PyTorch vs the course")]
    shown += _labels(chart_spec(at), chart_spec(at, "live_cell"))
    found = [(m.group(0), s) for text in shown for s in _not_about_pytorch(text)
             for m in PYTORCH.finditer(s)]
    assert not found, found
    pytorch = open_stepper(ckpt=ckpt, text=SPEECH if ckpt == "shakespeare" else COURSE, t=12,
                           unit=17 if ckpt == "shakespeare" else 3)
    assert any(PYTORCH.search(c.value) for c in pytorch.caption)  # the check can fail


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_the_cell_is_drawn_on_first_load_and_names_its_gates(notation):
    at = open_stepper(ckpt="shakespeare", text=SPEECH, t=12, unit=17, notation=notation)
    assert not [t for t in at.toggle if "cell" in t.label.lower()]  # no toggle to find it
    cell = chart_spec(at, "live_cell")["cell"]["layout"]
    names = {a["name"]: a["text"] for a in cell["annotations"]}
    assert [re.sub("<[^>]+>", "", names[f"name:{k}"]) for k in "runh"] == list(GATES)
    gate = {"pytorch": "r σ", "course": "Γr σ"}[notation]
    assert f"<b>{gate}</b>" in names.values()
    assert names["h"].startswith("c⟨t⟩ = a⟨t⟩<br>= " if notation == "course" else "h<br>= ")


def _rows(spec: dict) -> list[int]:
    heat = next(d for d in spec["data"] if d["type"] == "heatmap")
    return [int(r[0]) for r in heat["customdata"]]


@pytest.mark.parametrize("unit, order, said", [
    (17, "index", "every 4th unit of 256 (by index), and unit 17"),
    (16, "index", "every 4th unit of 256 (by index)"),
    (17, "mean z", "every 4th unit of 256 (holders first), and unit 17"),
])
def test_heatmap_rows_are_said_as_drawn(unit, order, said):
    from dashboard.views.stepper import window
    from gru_core import load_checkpoint, unit_order
    at = open_stepper(ckpt="shakespeare", text=SPEECH, t=12, unit=unit, order=order)
    spec = chart_spec(at)
    tt = load_checkpoint(ROOT / "checkpoints/shakespeare.pt").trace(SPEECH)
    units = unit_order(tt, order, 0, 0, window(12, tt.T))
    want = [u for i, u in enumerate(units) if i % 4 == 0 or u == unit]
    assert _rows(spec) == want and len(want) == 64 + (unit != units[units.index(unit) // 4 * 4])
    assert said in spec["layout"]["title"]["text"]
    assert any(f"Below, {said}, one row each" in c.value for c in at.caption)
    assert said.endswith(f"and unit {unit}") == (units.index(unit) % 4 != 0)


def test_a_small_model_draws_a_row_per_unit():
    at = open_stepper(ckpt="agreement-words", text=COURSE, t=3,
                      unit=3)
    rows = _rows(chart_spec(at))
    assert sorted(rows) == list(range(len(rows))) and len(rows) <= 64
    assert any(f"Below, every unit ({len(rows)})" in c.value for c in at.caption)


# --- Chromium ---------------------------------------------------------------------------------

OVERFLOW = """() => {
  const cut = [];
  const main = document.querySelector('[data-testid=stMain]');
  for (const el of main.querySelectorAll(
      '[data-testid=stMarkdownContainer], [data-testid=stCaptionContainer], .katex-display,'
      + ' button, [data-testid=stHeading]')) {
    if (el.offsetParent === null) continue;  // not shown
    if (el.scrollWidth > el.clientWidth + 1) cut.push(['wide', el.textContent.slice(0, 60)]);
    for (const p of el.querySelectorAll('p, div')) {
      const s = getComputedStyle(p);
      if (s.textOverflow === 'ellipsis' && p.scrollWidth > p.clientWidth + 1)
        cut.push(['ellipsis', p.textContent.slice(0, 60)]);
    }
  }
  return cut;
}"""


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("REQUIRE_BROWSER"),
                    reason=f"no Chromium at {CHROMIUM}")
def test_nothing_on_the_stepper_is_cut_and_the_cell_names_its_gates(app_url):
    from playwright.sync_api import expect

    from ..browser import browser
    with browser() as b:
        for width, height in ((1280, 720), (1400, 1000)):
            page = b.new_page(viewport={"width": width, "height": height})
            for notation, text, t in (("pytorch", SPEECH, 12), ("course", PASSAGE, 95)):
                page.goto(f"{app_url}/?" + urlencode({
                    "ckpt": "shakespeare", "text": text, "t": t, "unit": 17,
                    "notation": notation}))
                chart, cell = page.locator(".st-key-step_chart"), page.locator(".gru-cell")
                expect(cell.locator(".main-svg").first).to_be_attached(timeout=90_000)
                settle(page)
                for name in GATES:
                    expect(cell.locator(".annotation-text", has_text=name)).to_be_in_viewport()
                assert page.evaluate(OVERFLOW) == [], (width, notation)
                card = chart.locator(".gl-line")
                assert card.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
            page.close()


def test_the_browsers_card_is_typeset_by_the_katex_streamlits_markdown_uses():
    """The browser's card (live_chart/chart.js) typesets the server's LaTeX with the vendored
    KaTeX; Streamlit's Markdown typesets the server's card with its own: the same version, so
    the two cards are the same elements (tests/browser/test_browser.py compares them)."""
    import streamlit as st

    from dashboard import live_chart
    ours = re.search(r'version:"([\d.]+)"', live_chart.KATEX_JS.read_text()).group(1)
    chunks = list((Path(st.__file__).parent / "static/static/js").glob("rehype-katex.*.js"))
    assert len(chunks) == 1
    theirs = re.search(r"version:`([\d.]+)`", chunks[0].read_text()).group(1)
    assert ours == theirs


def test_the_cards_sent_to_the_browser_are_the_server_cards_of_the_window():
    """The stepper sends, with its chart, the parts of every step's card in the chart's window
    and of its summary of every unit; the one at t is what the page draws with Streamlit, and
    each is gru_core's step_card and step_summary."""
    from dashboard.views.stepper import summary, window
    from dashboard.views.stepper.cards import parts
    from gru_core import load_checkpoint, step_card, step_summary

    at = open_stepper(ckpt="shakespeare", text=SPEECH, t=34, unit=17, notation="course")
    data = next(json.loads(c.proto.json) for c in at.get("bidi_component")
                if c.proto.component_name == "live_card")
    tt = load_checkpoint(ROOT / "checkpoints/shakespeare.pt").trace(SPEECH)
    w = window(34, tt.T)
    assert [p["t"] for p in data["cards"]] == list(range(w.start, w.stop)) and data["t"] == 34
    for p in data["cards"][::9]:
        assert p == {**parts(step_card(tt, p["t"], 17), "course"),
                     "summary": summary.parts(step_summary(tt, p["t"]), "course")}
    at_t = data["cards"][34 - w.start]
    assert at.subheader[0].value == f"{at_t['heading']}` {at_t['token']} `"
    assert any(at_t["caption"] == c.value for c in at.caption)
    said, diff = at_t["summary"], at_t["differences"]
    assert any(m.value == f"**{said['lead']}** {said['headline']}" for m in at.markdown)
    assert any(i.value == f"**{diff['lead']}** {diff['text']}" for i in at.info)


def _go_to_box(at):
    return next(n for n in at.number_input if n.label.startswith("Go to t"))


def test_a_go_to_box_left_at_an_older_step_does_not_take_the_page_back():
    """A browser that a rerun has not reached yet still shows the box of an older step, and
    sends it with its next rerun: the page stays at the server's step. The reader's own
    entry in the box shown still moves it."""
    at = open_stepper(ckpt="agreement", text=COURSE, t=20, unit=5)
    stale = _go_to_box(at).proto.id, 20.0  # the box as the lagging browser still holds it
    at.button(key="next").click().run()
    assert at.slider[0].value == 21
    states = at._tree.get_widget_states()  # what AppTest sends: the page as it stands ...
    box = next(w for w in states.widgets if w.id == _go_to_box(at).proto.id)
    box.id, box.double_value = stale  # ... but with the older step's box in it
    at._run(states)  # AppTest's own run, with these states instead of its page's
    assert not at.exception
    assert at.slider[0].value == 21 and at.query_params["t"] == "21"
    _go_to_box(at).set_value(9).run()
    assert at.slider[0].value == 9 and at.query_params["t"] == "9"
