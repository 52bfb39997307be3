"""The stepper at a screen share's 1280×720, in both notations: nothing it draws is cut off
or wider than the window, and the cell names its gates on first load."""

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from ..browser import settle

pytestmark = pytest.mark.chromium

TEXT = "KING HENRY VI:\nWhat, will the aspiring blood of Lancaster sink in the ground?"
GATES = ("reset gate", "update gate", "candidate", "new state")

# Every element of the main block (and of any frame it holds) whose text is cut: wider than
# its box where the box clips, or reaching past the window's right edge. (KaTeX's MathML copy
# is clipped to nothing on purpose: it is for screen readers.)
CLIPPED = """(selector) => {
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    if (['SCRIPT', 'STYLE'].includes(el.tagName) || el.closest('.katex-mathml')) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || !el.textContent.trim()) continue;
    const style = getComputedStyle(el);
    const clips = ['hidden', 'clip'].includes(style.overflowX) || style.textOverflow === 'ellipsis';
    const cut = clips && el.scrollWidth > el.clientWidth + 1;
    if (cut || box.right > innerWidth + 1)
      out.push(`${el.tagName}.${el.className}: ${el.textContent.trim().slice(0, 60)}`
               + ` (${Math.round(box.right)} px, scroll ${el.scrollWidth} > ${el.clientWidth})`);
  }
  return out;
}"""


def _frames_text(page) -> str:
    """What the page and its frames show as text, SVG labels included."""
    return " ".join(f.evaluate("() => [...document.querySelectorAll('body *')]"
                               ".filter(e => !['SCRIPT', 'STYLE'].includes(e.tagName))"
                               ".map(e => e.childElementCount ? '' : e.textContent).join(' ')")
                    for f in page.frames)


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_nothing_on_the_stepper_is_cut_at_1280x720(app_url, page, notation):
    small = page.context.browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        small.goto(f"{app_url}/?" + urlencode({"ckpt": "shakespeare", "text": TEXT, "t": 30,
                                               "unit": 7, "notation": notation}))
        expect(small.get_by_role("heading", name="Step t = 30, unit 7", exact=False)
               ).to_have_count(1, timeout=90_000)
        settle(small)
        for _ in range(60):  # the cell is drawn (in the page, or in the chart's frame)
            if all(g in _frames_text(small) for g in GATES):
                break
            small.wait_for_timeout(500)
        text = _frames_text(small)
        assert all(g in text for g in GATES), [g for g in GATES if g not in text]
        cut = [c for f in small.frames for c in f.evaluate(
            CLIPPED, "[data-testid=stMain] *" if f == small.main_frame else "body *")]
        assert not cut, cut
    finally:
        small.close()


# Boxes that scroll sideways hide what is past their edge: the worked example's tables (a
# glide-data-grid scroller each) and the posts' code blocks. And a table taller than its box
# hides its last terms, the new state among them.
SCROLLS = """() => [...document.querySelectorAll(
    '[data-testid=stMain] .dvn-scroller, [data-testid=stMain] [data-testid=stCode] pre')]
  .filter(e => e.scrollWidth > e.clientWidth + 1
          || (e.classList.contains('dvn-scroller') && e.scrollHeight > e.clientHeight + 1))
  .map(e => `${e.className}: ${e.scrollWidth}x${e.scrollHeight} in ${e.clientWidth}x`
            + `${e.clientHeight} (${e.textContent.trim().slice(0, 40)})`)"""


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_worked_example_shows_every_term_and_line_at_1280x720(app_url, page, notation):
    small = page.context.browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        small.goto(f"{app_url}/?" + urlencode({
            "view": "example", "ckpt": "shakespeare", "text": TEXT, "notation": notation,
            "steps": "40,41", "units": "0-9"}))  # ten units: the most a table holds
        settle(small)
        expect(small.get_by_test_id("stCode")).to_have_count(1, timeout=90_000)
        expect(small.locator(".dvn-scroller")).to_have_count(2)
        assert not small.evaluate(SCROLLS), small.evaluate(SCROLLS)
    finally:
        small.close()


def test_number_units_labels_are_whole_at_1280x720(app_url, page):
    """The metrics' labels are one line each; the sentence each is about shows in full."""
    text = "The lanterns, which the old keeper lit at dusk, were still glowing."
    small = page.context.browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        small.goto(f"{app_url}/?" + urlencode({"view": "number", "ckpt": "agreement",
                                               "text": text, "t": 57}))
        settle(small)
        expect(small.get_by_test_id("stMetric")).to_have_count(2, timeout=90_000)
        cut = small.evaluate(CLIPPED, "[data-testid=stMain] *")
        assert not cut, cut
        for sentence in ("The lantern, which the old keeper lit at dusk, w",
                         "The lanterns, which the old keeper lit at dusk, w"):
            expect(small.get_by_test_id("stCaptionContainer").filter(has_text=sentence)).to_have_count(1)
    finally:
        small.close()


def test_memory_chart_legend_clear_of_its_axis_title_at_1280x720(app_url, page):
    small = page.context.browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        small.goto(f"{app_url}/?" + urlencode({"view": "memory", "ckpt": "shakespeare",
                                               "text": TEXT, "t": 40, "unit": 7}))
        settle(small)
        title = small.locator(".js-plotly-plot").filter(has_text="step (token)").last
        expect(title).to_be_attached(timeout=90_000)
        a = title.locator(".legend").bounding_box()
        b = title.locator(".g-xtitle").bounding_box()
        assert b["y"] + b["height"] <= a["y"], (a, b)  # the legend starts under the title
    finally:
        small.close()
