"""The dashboard in a real headless Chromium: deep link, charts, next, upload, question views.

Every check after an action first waits for Streamlit to settle (tests/browser.py) and then
uses Playwright's retrying expect(), so a rerun still on its way cannot make a test pass or fail.
"""

import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from ..browser import ROOT, click_when_still, params, settle, wait_for_params

SHOTS = ROOT / "artifacts" / "screenshots"
COURSE = "The cats, which already ate the fish, were full."
LIVE = ".st-key-step_chart .main-svg"

pytestmark = pytest.mark.chromium


def heading(page, text: str):
    return page.get_by_role("heading", name=re.compile(re.escape(text)))


def goto(page, url: str) -> None:
    page.goto(url)
    expect(page.locator(f"[data-testid=stPlotlyChart] .main-svg, {LIVE}").first).to_be_attached(
        timeout=90_000)
    settle(page)


def live_chart(page, key: str = "step_chart"):
    """The chart drawn by dashboard/live_chart.py under this key, once drawn."""
    chart = page.locator(f".st-key-{key}")
    expect(chart.locator(".main-svg").first).to_be_attached(timeout=60_000)
    return chart


def no_exception(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_deep_link_renders_and_next_advances(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 20,
                                           "unit": 5}))
    no_exception(page)
    chart = live_chart(page)
    expect(chart.locator(".imagelayer image, .heatmaplayer image")).to_have_count(4)  # r z n h
    expect(chart.locator(".barlayer .point").nth(40)).to_be_attached()  # kept and new, per step
    expect(page.locator(".gru-pred tbody tr").nth(4)).to_be_visible()  # the top 5 next tokens
    expect(heading(page, "Step t = 20, unit 5")).to_have_count(1)
    expect(page.locator(".katex .mord").nth(39)).to_be_attached()  # the equations were typeset
    shot(page, "step-t20-unit5")
    before = _step_lines(chart)
    assert before  # the step line, drawn on each panel
    page.locator(".st-key-next button").first.click()
    settle(page)
    expect(heading(page, "Step t = 21, unit 5")).to_have_count(1)
    wait_for_params(page, {"t": "20"})
    assert params(page)["t"] == "21"
    deadline = time.time() + 5
    while _step_lines(chart) == before and time.time() < deadline:
        time.sleep(0.1)
    after = _step_lines(chart)
    gone, came = Counter(before) - Counter(after), Counter(after) - Counter(before)
    assert gone and came and min(came) > max(gone), (before, after)  # t's line moved right
    no_exception(page)
    shot(page, "step-t21-unit5")


def _step_lines(chart) -> list[float]:
    """The x of each vertical line the frame's shapes draw: step t's marker, and the cell's
    wires, which stay where they are."""
    ds = chart.locator(".shapelayer path").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
    xs = [re.fullmatch(r"M([\d.]+),[\d.]+L([\d.]+),[\d.]+", d or "") for d in ds]
    return sorted(float(m[1]) for m in xs if m and m[1] == m[2])


def test_clicking_a_heatmap_cell_selects_step_and_unit(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 20,
                                           "unit": 5}))
    page.locator(".st-key-step_chart").scroll_into_view_if_needed()
    heat = live_chart(page).locator(".draglayer .xy3 .nsewdrag")  # the r heatmap
    box = heat.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.5)
    # two reruns: the chart's fragment writes t, then the whole page runs for the new unit
    wait_for_params(page, {"t": "20", "unit": "5"})
    settle(page)
    p = params(page)  # a cell near the left edge, half-way up the 128 units
    assert int(p["t"]) < 10 and 40 < int(p["unit"]) < 90
    expect(heading(page, f"Step t = {p['t']}, unit {p['unit']}")).to_have_count(1)
    no_exception(page)


def test_bad_link_and_broken_upload_give_messages(app_url, page, tmp_path):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": "abc",
                                           "unit": 9999}))
    no_exception(page)
    expect(page.get_by_text("is not a whole number")).to_have_count(1)
    expect(page.get_by_text("unit=9999 is outside 0..127")).to_have_count(1)
    shot(page, "bad-link-notices")
    page.locator(".st-key-ckpt").click()
    page.get_by_role("option", name="upload your own…").click()
    settle(page)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    page.locator("input[type=file]").set_input_files(str(bad))
    settle(page)
    expect(page.get_by_text("This file cannot be used")).to_be_visible(timeout=30_000)
    no_exception(page)
    shot(page, "broken-upload")


@pytest.mark.parametrize("view", ["saturation", "memory", "gradients", "reset", "number"])
def test_question_views_render(app_url, page, view):
    from dashboard.registry import VIEWS

    goto(page, f"{app_url}/?" + urlencode({"view": view, **VIEWS[view].link}))
    no_exception(page)
    expect(page.locator("[data-testid=stPlotlyChart] .main-svg").first).to_be_visible()
    shot(page, f"question-{view}")


def test_the_other_views_element_code_is_loaded_while_the_stepper_is_read(app_url, page):
    """Streamlit fetches an element's code the first time a page shows one; the stepper shows
    no st.plotly_chart, metric or code block, so its chart imports that code once the page is
    idle, and the switch to a question view finds it there."""
    from dashboard.live_chart import ELEMENTS, _chunks

    assert len(_chunks()) == len(ELEMENTS)  # this Streamlit has one file for each
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 7,
                                           "unit": 1}))
    live_chart(page)
    page.wait_for_function(
        "names => names.every(n => performance.getEntriesByType('resource')"
        ".some(e => e.name.endsWith('/' + n)))", arg=_chunks(), timeout=60_000)


def test_step_chart_comes_back_after_another_view(app_url, page):
    """Another view removes the chart (and → there is that view's own shortcut, once); back
    at the stepper the chart is new, and is sent its figure in the same run."""
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 20,
                                           "unit": 5}))
    chart = live_chart(page)
    heatmaps = chart.locator(".imagelayer image, .heatmaplayer image")
    expect(heatmaps).to_have_count(4)
    drawn = [heatmaps.nth(i).get_attribute("href") for i in range(4)]  # their pixels
    assert all(href.startswith("data:image/png") for href in drawn)
    assert page.evaluate("window.draws") == 1  # drawn once, whatever Streamlit re-sent
    page.locator(".st-key-view").get_by_text("Vanishing gradients", exact=True).click()
    settle(page)
    expect(page.locator("[data-testid=stPlotlyChart] .main-svg").first).to_be_attached()
    expect(page.locator(".st-key-step_chart")).to_have_count(0)  # the chart is gone
    page.get_by_role("heading", name="How does the update gate").click()  # the page has the focus
    page.keyboard.press("ArrowRight")  # the view's own → shortcut, once
    wait_for_params(page, {"t": "20"})
    settle(page)
    assert params(page)["t"] == "21"
    page.locator(".st-key-view").get_by_text("Stepper", exact=True).click()
    settle(page)
    expect(heading(page, "Step t = 21, unit 5")).to_have_count(1)
    chart = live_chart(page)
    heatmaps = chart.locator(".imagelayer image, .heatmaplayer image")
    expect(heatmaps).to_have_count(4)  # drawn again, with the same data
    assert [heatmaps.nth(i).get_attribute("href") for i in range(4)] == drawn
    assert page.evaluate("window.draws") == 2  # sent at once: no round trip to ask for it
    expect(chart.locator(".shapelayer path").first).to_be_attached()  # and the step line
    no_exception(page)


def test_plotly_js_crosses_the_wire_once_per_browser(app_url, page):
    """plotly.js (1.5 MB) is loaded once per page, from the app's static folder, where the
    browser keeps it: away to another view and back loads nothing, and a link reopened in
    the same tab finds it in the browser's cache."""
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()  # a fresh browser cache
    try:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        asked, wire = set(), []
        cdp.on("Network.requestWillBeSent", lambda e: asked.add(e["requestId"])
               if e["request"]["url"].endswith("plotly.min.js") else None)
        cdp.on("Network.loadingFinished", lambda e: wire.append(e["encodedDataLength"])
               if e["requestId"] in asked else None)
        link = f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 9})
        goto(page, link)
        live_chart(page)
        for _ in range(2):  # away and back: the page keeps plotly.js
            page.locator(".st-key-view").get_by_text("The reset gate", exact=True).click()
            settle(page)
            page.locator(".st-key-view").get_by_text("Stepper", exact=True).click()
            settle(page)
            live_chart(page)
        goto(page, link.replace("t=9", "t=10"))  # a link reopened in the same tab
        live_chart(page)
        assert len(wire) == 2, wire  # two pages, each loaded plotly.js
        assert wire[0] > 300_000 and wire[1:] == [0], wire  # over the wire once (gzipped)
    finally:
        context.close()


def test_streamlits_plotly_code_is_loaded_while_the_stepper_is_read(app_url, page):
    """The first view with an st.plotly_chart finds Streamlit's Plotly code (4.7 MB) already
    loaded: the step chart imports it once the page is drawn and idle, so the click does not
    fetch it. Its Plotly and the chart's share the page: the chart keeps drawing with its own
    (Streamlit's may take window.Plotly), the cell and the line moving at each step."""
    def fetched() -> int:
        return page.evaluate("performance.getEntriesByType('resource')"
                             ".filter((r) => r.name.includes('/PlotlyChart.')).length")

    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 9}))
    live_chart(page)
    page.wait_for_function("() => performance.getEntriesByType('resource')"
                           ".some((r) => r.name.includes('/PlotlyChart.'))", timeout=30_000)
    page.locator(".st-key-view").get_by_text("Do gates go to 0/1?", exact=True).click()
    settle(page)
    expect(page.locator("[data-testid=stPlotlyChart] .main-svg").first).to_be_attached()
    assert fetched() == 1  # the one import, before the click
    page.locator(".st-key-view").get_by_text("Stepper", exact=True).click()
    settle(page)
    chart = live_chart(page)
    expect(page.locator(".gru-cell .main-svg").first).to_be_attached()
    heading(page, "Step t = 9").click()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.cellAt === 10", timeout=10_000)
    settle(page)
    expect(heading(page, "Step t = 10")).to_have_count(1)
    expect(chart.locator(".gl-line")).to_contain_text("t = 10 ")
    assert errors == []
    no_exception(page)


def test_upload_an_embedding_model_with_a_vocabulary_file(app_url, page, tmp_path):
    import torch

    vocab = sorted(set(COURSE))
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"encoder": torch.nn.Embedding(len(vocab), 24),
                                 "rnn": torch.nn.GRU(24, 32, num_layers=2),
                                 "decoder": torch.nn.Linear(32, len(vocab))})
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    (tmp_path / "mine.txt").write_text("\n".join(vocab) + "\n")
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 7}))
    page.locator(".st-key-ckpt").click()
    page.get_by_role("option", name="upload your own…").click()
    settle(page)
    uploader = page.get_by_test_id("stFileUploader")
    uploader.filter(has_text="Model file").locator("input[type=file]").set_input_files(
        str(tmp_path / "mine.pt"))
    settle(page)
    expect(page.get_by_text("carries no vocabulary")).to_be_visible()  # what to do next,
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)  # and not as an error
    page.locator(".st-key-vocab_source").click()
    page.get_by_role("option", name="a vocabulary file…").click()
    settle(page)
    uploader.filter(has_text="Vocabulary").locator("input[type=file]").set_input_files(
        str(tmp_path / "mine.txt"))
    settle(page)
    expect(page.get_by_text("upload mine.pt", exact=False).first).to_be_visible()  # its name
    expect(page.get_by_text(f"Found: nn.Embedding at 'encoder': {len(vocab)} tokens × 24")
           ).to_be_visible()
    expect(heading(page, "Step t = 7")).to_have_count(1)
    expect(live_chart(page).locator(".imagelayer image, .heatmaplayer image")).to_have_count(4)
    no_exception(page)
    shot(page, "upload-embedding-model")


def test_playback_moves_the_step_line_every_step_without_the_server(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE * 2, "t": 5,
                                           "unit": 5}))
    chart = live_chart(page)
    chart.locator(".gl-speed").select_option("10")
    chart.locator(".gl-play").click()
    page.wait_for_function("() => window.stepLog.length >= 21", timeout=30_000)
    chart.locator(".gl-play").click()  # pause: the page follows the player to its step
    log = page.evaluate("() => window.stepLog")[:21]
    assert [e["t"] for e in log] == list(range(5, 26))  # from t = 5, every step, in order
    assert all(b["x"] > a["x"] for a, b in zip(log, log[1:], strict=False))  # the line moved
    settle(page)
    t = int(params(page)["t"])
    assert t >= 25
    expect(heading(page, f"Step t = {t}, unit 5")).to_have_count(1)
    expect(chart.locator(".gl-line")).to_contain_text(f"t = {t} ")
    no_exception(page)


def test_arrow_keys_step(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 10,
                                           "unit": 5}))
    heading(page, "Step t = 10, unit 5").click()  # the page has the focus, not a text field
    page.keyboard.press("ArrowRight")
    settle(page)
    expect(heading(page, "Step t = 11, unit 5")).to_have_count(1)
    for t in (10, 9):
        page.keyboard.press("ArrowLeft")
        settle(page)
        expect(heading(page, f"Step t = {t}, unit 5")).to_have_count(1)


def test_controls_have_distinct_names_and_no_key_press_is_lost(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 10,
                                           "unit": 5}))
    expect(page.get_by_role("button", name=re.compile(r"^◀ previous step"))).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile(r"^next step ▶"))).to_have_count(1)
    chart = live_chart(page)
    expect(chart.get_by_role("button", name="play", exact=True)).to_have_count(1)
    heading(page, "Step t = 10, unit 5").click()  # the page has the focus, not a text field
    page.keyboard.press("Home")
    for _ in range(33):  # pressed faster than the page reruns: none is lost
        page.keyboard.press("ArrowRight", delay=5)
    page.wait_for_function("() => new URLSearchParams(location.search).get('t') === '33'",
                           timeout=60_000)
    settle(page)
    expect(heading(page, "Step t = 33, unit 5")).to_have_count(1)
    no_exception(page)


def test_play_beside_the_steps_buttons_moves_the_card_and_the_cell_together(app_url, page):
    """▶ play beside ◀ ▶ runs the chart's player: the card, the cell and the prediction beside
    it show the player's step as it plays (the slider, dimmed, follows at the pause)."""
    _ready_to_step(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE * 2,
                                                     "t": 5, "unit": 5}))
    page.locator(".st-key-play button").first.click()
    page.wait_for_function("() => window.stepLog.length >= 6", timeout=30_000)
    # read at one moment: the player moves on every 50 ms
    now = page.evaluate("""() => [window.stepLog.at(-1).t, window.cardAt, window.cellAt,
                                  window.predictionAt,
                                  document.querySelector('.st-key-t').style.opacity,
                                  document.querySelector('.gru-card-copy h3').textContent]""")
    assert now[0] > 5 and now[1:4] == [now[0]] * 3 and now[4] == "0.45", now
    assert f"Step t = {now[0]}, unit 5" in now[5], now
    expect(page.locator(".st-key-play button").first).to_contain_text("pause")
    page.locator(".st-key-play button").first.click()  # pause: the page follows
    wait_for_params(page, {"t": "5"})  # the player is past t = 5: its rerun has begun
    settle(page)
    t = int(params(page)["t"])
    expect(heading(page, f"Step t = {t}, unit 5")).to_have_count(1)
    assert page.evaluate("() => [window.cellAt, window.predictionAt]") == [t, t]
    assert page.evaluate("() => document.querySelector('.st-key-t').style.opacity") == ""
    no_exception(page)


def test_play_at_the_last_step_starts_again_from_the_first(app_url, page):
    last = len(COURSE) - 1
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": last,
                                           "unit": 5}))
    chart = live_chart(page)
    chart.locator(".gl-speed").select_option("10")
    chart.locator(".gl-play").click()
    page.wait_for_function("() => window.stepLog.length >= 3", timeout=30_000)
    log = [e["t"] for e in page.evaluate("() => window.stepLog")]
    assert log[:3] == [0, 1, 2], log
    chart.locator(".gl-play").click()  # pause
    settle(page)
    assert int(params(page)["t"]) < last
    no_exception(page)


def test_screen_share_layout_shows_card_and_chart_together_at_1280x720(app_url, page):
    small = page.context.browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        goto(small, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 30,
                                                "unit": 5}))
        small.get_by_text("Screen-share layout", exact=False).click()
        settle(small)
        card, chart = small.locator(".st-key-card"), small.locator(".st-key-unit_chart")
        expect(card.get_by_role("heading", name=re.compile("Step t = 30, unit 5"))).to_have_count(1)
        expect(chart.locator(".main-svg").first).to_be_visible(timeout=30_000)
        expect(card.locator(".katex").first).to_be_visible()
        card.evaluate("e => e.scrollIntoView({block: 'center'})")  # as the mentor scrolls to it
        small.wait_for_timeout(300)
        for box in (card.bounding_box(), chart.bounding_box()):
            assert box["x"] >= 0 and box["y"] >= 0, box  # inside the 1280×720 viewport
            assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 720, box
        shot(small, "screen-share-1280x720")
        small.screenshot(path=str(SHOTS / "screen-share-1280x720-viewport.png"))
        no_exception(small)
    finally:
        small.close()


def _cell_labels(page) -> dict[str, str]:
    """The cell's labels as Chromium drew them: each annotation's name and its SVG text."""
    return page.evaluate("""() => {
      const cell = document.querySelector('.st-key-step_cell .gru-cell'), out = {};
      cell.layout.annotations.forEach((a, i) => {
        const g = cell.querySelector(`.annotation[data-index="${i}"] .annotation-text`);
        out[a.name] = g ? g.textContent : null;
      });
      out.title = cell.querySelector('.gtitle').textContent;
      return out; }""")


def _card_labels(t: int, unit: int, notation: str = "pytorch") -> dict[str, str]:
    """What the cell must show at t: the step card's numbers (gru_core.step_card), as text."""
    import html

    from dashboard.views.stepper.cell import labels
    from gru_core import load_checkpoint, step_card

    from ..conftest import CHECKPOINTS
    card = step_card(load_checkpoint(CHECKPOINTS / "agreement.pt").trace(COURSE * 2), t, unit)
    return {k: html.unescape(v).replace("<br>", "") for k, v in  # a line break is two tspans
            labels(card.terms, notation, card.token, t, unit).items()}


def test_cell_figure_moves_with_the_player_and_equals_the_card(app_url, page):
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE * 2, "t": 5,
                                           "unit": 5}))
    chart = live_chart(page)  # the cell is drawn beside the card, on first load
    expect(page.locator(".gru-cell .main-svg").first).to_be_attached(timeout=30_000)
    shown = _cell_labels(page)
    assert shown.items() >= _card_labels(5, 5).items(), shown
    chart.locator(".gl-speed").select_option("5")
    chart.locator(".gl-play").click()
    page.wait_for_function("() => window.stepLog.length >= 4", timeout=30_000)
    moving = page.evaluate("() => window.cellAt")
    assert moving > 5  # the cell moved while playing, with no server round trip
    chart.locator(".gl-play").click()  # pause: the page lands on the player's step
    settle(page)
    t = int(params(page)["t"])
    expect(heading(page, f"Step t = {t}, unit 5")).to_have_count(1)
    page.wait_for_function(f"() => window.cellAt === {t}", timeout=10_000)
    assert _cell_labels(page).items() >= _card_labels(t, 5).items()
    heading(page, f"Step t = {t}, unit 5").click()
    page.keyboard.press("ArrowRight")  # a step: the cell follows at once, then the card
    page.wait_for_function(f"() => window.cellAt === {t + 1}", timeout=10_000)
    settle(page)
    expect(heading(page, f"Step t = {t + 1}, unit 5")).to_have_count(1)
    assert _cell_labels(page).items() >= _card_labels(t + 1, 5).items()
    shot(page, "cell-follows-the-player")
    no_exception(page)


def test_copy_the_post_confirms_with_what_was_copied(app_url, page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    goto(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 30,
                                           "unit": 5}))
    page.get_by_text("Copy as forum post, or download the numbers").click()
    settle(page)
    post = page.get_by_test_id("stCode").last.locator("code").inner_text()
    button = page.locator(".stBidiComponent").filter(has=page.locator("button.copy")).first
    expect(page.locator("iframe[srcdoc*='navigator.clipboard']")).to_have_count(0)  # v2: none
    expect(button.locator(".state")).to_have_text("")
    click_when_still(button.get_by_role("button", name="Copy the post"))
    expect(button.get_by_role("status")).to_contain_text(
        f"Copied ✓ ({len(post):,} characters on the clipboard", timeout=10_000)
    assert page.evaluate("() => navigator.clipboard.readText()") == post
    page.keyboard.press("r")  # Streamlit's own rerun: the same post, so the same confirmation
    settle(page)
    expect(button.get_by_role("status")).to_contain_text("Copied ✓")
    page.keyboard.press("ArrowRight")  # another step: another post, which nothing has copied
    settle(page)
    expect(button.get_by_role("status")).to_have_text("")
    no_exception(page)


CARD_NOW = """() => {
  const copy = document.querySelector('.gru-card-copy');
  const card = copy || document.querySelector('.st-key-card_server');
  // each element as Streamlit's DOM holds it: tag, classes, style (as the browser reads it)
  const shape = [...card.querySelectorAll('*')].map((e) => [e.tagName, e.getAttribute('class'),
                                                            e.style ? e.style.cssText : '']);
  // and the step's summary of every unit, the course's differences, the prediction
  const block = (name, key) => document.querySelector(`.${name}`)
                               || document.querySelector(`.st-key-${key}`);
  const summary = block('gru-summary-copy', 'summary_server');
  const diff = block('gru-diff-copy', 'diff_server');
  return {browser: copy !== null, text: card.innerText, shape: JSON.stringify(shape),
          summary: summary.innerText, copied: summary.classList.contains('gru-summary-copy'),
          diff: diff && diff.innerText, prediction: document.querySelector('.gru-pred').innerText};
}"""
# the browser's card as it is put in the page, and the blocks below it a frame later, read
# then (not after the rerun that may follow before a test's next call reaches the page)
CATCH_CARD = """(read) => {
  window.caught = undefined;
  const box = document.querySelector('.st-key-step_cards .gru-card');
  const ob = new MutationObserver(() => {
    if (!box.querySelector('.gru-card-copy')) return;
    ob.disconnect();
    requestAnimationFrame(() => { window.caught = eval(read)(); });
  });
  ob.observe(box, {childList: true});
}"""


def _ready_to_step(page, url: str) -> None:
    goto(page, url)
    live_chart(page)
    page.wait_for_function("() => window.katex !== undefined", timeout=30_000)


@pytest.mark.parametrize("ckpt, notation", [("agreement", "pytorch"), ("agreement", "course"),
                                             ("agreement-course", "pytorch")])
def test_a_step_in_the_browser_shows_the_card_the_server_then_draws(app_url, page, ckpt,
                                                                     notation):
    """→ and ▶ next show the next step's card at once, from the parts the server sent with the
    chart, and the step's prediction, summary of every unit and (in course notation) the
    course's differences; the server's card, once the page has rerun, is the same text and the
    same elements, its prediction, summary and differences the same text, and so are those of
    a page opened at that step (a Keras model that resets before the product: with its
    comparison)."""
    link = {"ckpt": ckpt, "text": COURSE, "unit": 5, "notation": notation}
    _ready_to_step(page, f"{app_url}/?" + urlencode({**link, "t": 20}))
    heading(page, "Step t = 20, unit 5").click()  # the page has the focus
    for t, press in ((21, lambda: page.keyboard.press("ArrowRight")),
                     (22, lambda: page.locator(".st-key-next button").first.click())):
        page.evaluate(CATCH_CARD, f"({CARD_NOW})")
        press()
        page.wait_for_function("() => window.caught !== undefined", timeout=10_000)
        now = page.evaluate("() => window.caught")  # at once: before the server's rerun
        assert now["browser"] and now["text"].startswith(f"Step t = {t}, unit 5: reading "), now
        assert now["copied"] and f"At t = {t}, " in now["summary"], now["summary"]
        assert now["prediction"].startswith(f"Next token after t = {t}\n"), now["prediction"]
        assert (now["diff"] is not None) == (notation == "course")
        page.wait_for_function("() => !document.querySelector('.gru-card-copy')",
                               timeout=30_000)
        settle(page)
        assert params(page)["t"] == str(t)
        after = page.evaluate(CARD_NOW)
        assert not after["browser"] and not after["copied"]
        for key in ("text", "shape", "summary", "diff", "prediction"):
            assert after[key] == now[key], key
        fresh = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            goto(fresh, f"{app_url}/?" + urlencode({**link, "t": t}))
            expect(fresh.locator(".st-key-card_server .katex").first).to_be_attached()
            expect(fresh.locator(".gru-pred tr")).to_have_count(6)
            opened = fresh.evaluate(CARD_NOW)
            for key in ("text", "shape", "summary", "diff", "prediction"):
                assert opened[key] == now[key], key
        finally:
            fresh.close()
    if ckpt == "agreement-course" and notation == "pytorch":
        assert "For comparison: PyTorch's formula" in now["text"]
    no_exception(page)


def test_keys_pressed_faster_than_the_server_show_each_card_and_land_on_the_last(app_url,
                                                                                 page):
    """Every → shows its step's card at once, none waiting for the server; the page lands on
    the last one, and the browser's card gives way to the server's."""
    _ready_to_step(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE,
                                                     "t": 20, "unit": 5}))
    heading(page, "Step t = 20, unit 5").click()
    shown = []
    for _ in range(5):
        page.keyboard.press("ArrowRight")
        shown.append(page.evaluate("() => window.cardAt"))
    assert shown == [21, 22, 23, 24, 25]
    page.wait_for_function("() => !document.querySelector('.gru-card-copy')", timeout=30_000)
    settle(page)
    expect(heading(page, "Step t = 25, unit 5")).to_have_count(1)
    assert params(page)["t"] == "25"
    no_exception(page)


def test_a_unit_picked_in_the_browsers_summary_opens_that_unit_at_that_step(app_url, page):
    """The summary of every unit shown after a browser-side step is live: its buttons select
    their unit at the step shown, as the server's do."""
    _ready_to_step(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE,
                                                     "t": 20, "unit": 5}))
    heading(page, "Step t = 20, unit 5").click()
    page.evaluate("""() => {
      window.picked = undefined;
      const ob = new MutationObserver(() => {  // the summary's copy, once it is in the page
        const button = document.querySelector('.gru-summary-copy button:not([disabled])');
        if (!button) return;
        ob.disconnect();
        window.picked = Number(button.innerText.replace('unit ', ''));
        button.click();
      });
      ob.observe(document.querySelector('[data-testid=stMain]'), {childList: true,
                                                                  subtree: true});
    }""")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.picked !== undefined", timeout=10_000)
    unit = int(page.evaluate("() => window.picked"))
    expect(heading(page, f"Step t = 21, unit {unit}")).to_have_count(1, timeout=30_000)
    settle(page)
    assert (params(page)["t"], params(page)["unit"]) == ("21", str(unit))
    no_exception(page)


def test_the_slider_shows_its_steps_card_as_it_moves(app_url, page):
    """The slider sends its own value; while it moves, the browser shows its step's card."""
    _ready_to_step(page, f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE,
                                                     "t": 20, "unit": 5}))
    page.locator(".st-key-t input[type=range]").focus()
    page.keyboard.press("ArrowRight")  # the slider's own key: it moves one step
    page.wait_for_function("() => window.cardAt === 21", timeout=5_000)
    settle(page)
    expect(heading(page, "Step t = 21, unit 5")).to_have_count(1)
    expect(page.locator(".gru-card-copy")).to_have_count(0)  # the server's card is back
    no_exception(page)
