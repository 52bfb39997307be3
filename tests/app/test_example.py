"""The worked example (issue 21): its numbers against plain nn.GRUCell, its post, its links."""

import re

import numpy as np
import pytest
import torch

from gru_core import fmt_near, fmt_num, recompute, worked_example

from ..conftest import make_gru, open_app


@torch.no_grad()
def cell_terms(gru: torch.nn.GRU, x: torch.Tensor, t: int) -> dict[str, torch.Tensor]:
    """Every term at step t, by nn.GRUCell with the GRU's layer-0 weights and the equations."""
    cell = torch.nn.GRUCell(gru.input_size, gru.hidden_size, bias=gru.bias).to(x.dtype)
    cell.load_state_dict({k[:-3]: v for k, v in gru.state_dict().items() if k.endswith("_l0")})
    h = x.new_zeros(gru.hidden_size)
    for s in range(t):
        h = cell(x[s], h)
    W_ir, W_iz, W_in = cell.weight_ih.chunk(3)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3)
    zero = x.new_zeros(3 * gru.hidden_size)
    b_ir, b_iz, b_in = (cell.bias_ih if gru.bias else zero).chunk(3)
    b_hr, b_hz, b_hn = (cell.bias_hh if gru.bias else zero).chunk(3)
    ir, iz, in_ = W_ir @ x[t] + b_ir, W_iz @ x[t] + b_iz, W_in @ x[t] + b_in
    hr, hz, hn = W_hr @ h + b_hr, W_hz @ h + b_hz, W_hn @ h + b_hn
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn)
    return {"h_prev": h, "ir": ir, "hr": hr, "r": r, "iz": iz, "hz": hz, "z": z, "in": in_,
            "hn": hn, "n": n, "keep": z * h, "new": (1 - z) * n, "h": cell(x[t], h)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1.0, 20.0])  # x20: saturated gates
@pytest.mark.parametrize("bias", [True, False])
def test_worked_example_matches_grucell(dtype, scale, bias):
    gru = make_gru(input_size=5, hidden=8, bias=bias, dtype=dtype, scale=scale, seed=3)
    x = torch.randn(12, 5, generator=torch.Generator().manual_seed(1), dtype=dtype)
    steps, units = [4, 5, 11], [0, 3, 7]
    ex = worked_example(recompute(gru, x), steps, units)
    # GRUCell sums in another order than nn.GRU: float32 rounding, grown by x20 weights
    tol = (1e-6 if dtype == torch.float32 else 1e-12) * scale
    with torch.no_grad():
        out, _ = gru(x)
    for t, table in zip(steps, ex.tables, strict=True):
        ref = cell_terms(gru, x, t)
        # h is nn.GRU's own output, bit for bit
        np.testing.assert_array_equal(table.h.to_numpy(), out[t, units].double().numpy())
        assert table.unit.tolist() == units
        for k, v in ref.items():
            np.testing.assert_allclose(table[k].to_numpy(), v[units].double().numpy(),
                                       atol=tol, rtol=0, err_msg=f"t={t} {k}")
        # the kept and new parts add up to h (up to float32's rounding of the split form)
        np.testing.assert_allclose(table.keep + table.new, table.h, atol=tol * 10)


def test_worked_example_sentences_follow_each_row():
    gru = make_gru(hidden=6, scale=20.0, seed=2)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    ex = worked_example(recompute(gru, x), [2, 3], [0, 1, 5])
    for i, table in enumerate(ex.tables):
        for line, row in zip(ex.sentences(i), table.itertuples(), strict=True):
            # one rule with the card and the cell: e-notation for a value below 0.00005
            said = re.match(rf"unit {row.unit}: z = ([0-9.e−+]+),", line)[1]
            assert said == (fmt_num(row.z) if 0 < row.z < 5e-5 else fmt_near(row.z, 2))
            assert float(said.replace("−", "-")) == pytest.approx(row.z, rel=0.01, abs=0.006)
            if row.z > 0.9:
                assert "keeps" in line
            elif row.z < 0.1:
                assert "takes the candidate" in line
            else:
                assert f"{row.z:.0%} kept" in line


def test_worked_example_scope_names_one_unit_or_step_in_the_singular():
    tr = recompute(make_gru(hidden=4), torch.randn(3, 5))
    assert worked_example(tr, [1, 2], [3]).scope == "steps 1, 2 × unit 3"
    assert worked_example(tr, [2], [0, 3]).scope == "step 2 × units 0, 3"


def test_worked_example_refuses_what_it_cannot_show():
    tr = recompute(make_gru(hidden=4), torch.randn(3, 5))
    for steps, units in (([], [0]), ([0], []), ([3], [0]), ([0], [4]), (list(range(3)) * 4, [0])):
        with pytest.raises(ValueError):
            worked_example(tr, steps, units)


# --- the page, its post and its links -------------------------------------------------------

from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard.offline import chart_html, example_html, player_figure  # noqa: E402
from dashboard.post import link_caveats  # noqa: E402
from dashboard.text import code_span, fenced, md_escape  # noqa: E402
from dashboard.views.example import terms_table  # noqa: E402

from .. import reference as ref  # noqa: E402
from ..conftest import ROOT  # noqa: E402

APP = str(ROOT / "dashboard/app.py")
SPEECH = "First Citizen:\nBefore we proceed any further, hear me speak."


def test_example_link_shows_every_term_equal_to_plain_nn_gru():
    at = open_app(view="example", ckpt="shakespeare", text=SPEECH, steps="33-34",
                  units="3,17,200")
    assert not at.exception
    g = ref.gates("shakespeare", SPEECH)
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2
    for t, table in zip((33, 34), tables, strict=True):
        # a row per term in the equations' order, a column per unit: fits 1280 pixels
        assert table.columns.tolist() == ["unit 3", "unit 17", "unit 200"]
        assert table.index.tolist()[:4] == ["h_prev", "ir", "hr", "r"]
        for k in ("h_prev", "r", "z", "n", "h"):
            np.testing.assert_allclose(table.loc[k], g[k][t, [3, 17, 200]].double(), atol=2e-6)
        keep = g["z"][t, [3, 17, 200]] * g["h_prev"][t, [3, 17, 200]]
        np.testing.assert_allclose(table.loc["z·h_prev (kept)"], keep.double(), atol=2e-6)
    post = at.code[0].value
    assert at.code[0].proto.wrap_lines  # a long line wraps: its result stays in view
    assert post.count("$$") == 4 and post.count(r"\begin{aligned}") == 2
    assert r"\underbrace" not in post and "<t>" not in post
    for t in (33, 34):  # h_prev's value is in the post, so a reader can check z·h_prev
        assert f"h_{{prev,17}} &= {float(g['h_prev'][t, 17]):.4f}" in post
    assert "steps=33%2C34&units=3%2C17%2C200" in post
    assert at.query_params["steps"] == "33,34" and at.query_params["units"] == "3,17,200"


def test_example_link_is_parsed_strictly():
    at = open_app(view="example", ckpt="shakespeare", text=SPEECH, steps="3,٣,4-2,x,900",
                  units="1," + ",".join(map(str, range(2, 20))))
    assert not at.exception
    warnings = "\n".join(w.value for w in at.warning)
    assert "steps: 3 entries were not a whole number" in warnings  # "٣", "4-2", "x"
    assert "outside 0..59" in warnings  # 900
    assert "units: at most 10" in warnings
    assert at.query_params["steps"] == "3" and at.query_params["units"] == "1-10"


def test_example_in_course_notation_and_with_a_text_too_long_for_a_link():
    text = (SPEECH + " ") * 40  # 2,400 characters: the URL cannot carry it
    at = open_app(view="example", ckpt="shakespeare", text=text, steps="100,101", units="4",
                  notation="course")
    assert not at.exception
    assert "text" not in at.query_params
    assert any("more than the 2,000 a link carries" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert {"c⟨t−1⟩", "Γr", "1−Γu", "c̃", "c⟨t⟩"} <= set(table.index)
    post = at.code[0].value
    assert r"\Gamma_{u,4} &= 1 - \sigma(" in post
    assert "more than the 2,000" not in post  # a note for the poster: beside it, not in it
    assert r"b_{r,4} &= b_{\mathrm{ir}} + b_{\mathrm{hr}}" in post
    assert all(line.startswith("- unit 4: Γu = ") for line in post.splitlines()
               if line.startswith("- unit"))


def test_add_to_the_example_from_the_stepper():
    at = open_app(ckpt="shakespeare", text=SPEECH, t=7, unit=5)
    at.button(key="ex_add").click().run()
    next(n for n in at.number_input if n.label.startswith("Go to t")).set_value(9).run()
    assert at.slider[0].value == 9 and at.query_params["t"] == "9"
    at.button(key="ex_add").click().run()
    at.button(key="ex_open").click().run()
    assert not at.exception
    assert at.query_params["view"] == "example"
    assert at.query_params["steps"] == "7,9" and at.query_params["units"] == "5"
    assert [d.value.columns.tolist() for d in at.dataframe] == [["unit 5"], ["unit 5"]]


def test_post_quotes_and_escapes_what_is_not_ours():
    assert code_span("a`b") == "`` a`b ``" and code_span("`") == "`` ` ``"
    block = fenced("x ```` y")
    assert block.startswith("`````text\n") and block.endswith("\n`````")
    assert md_escape("costs $5 *now*") == r"costs \$5 \*now\*"


def test_caveats_say_when_a_link_cannot_reproduce():
    ok = link_caveats("shakespeare", "hi", "https://gru.example.org/?view=example", 2000)
    assert ok == []
    up = link_caveats("upload:ab12", "hi", "https://gru.example.org/", 2000)
    assert len(up) == 1 and "-- --model" in up[0] and "offline copy" in up[0]
    long = link_caveats("shakespeare", "x" * 2001, "https://gru.example.org/", 2000)
    assert len(long) == 1 and "2,001 characters" in long[0]
    for url in ("http://localhost:8501/", "http://127.0.0.1:8501/?a=1"):
        local = link_caveats("shakespeare", "hi", url, 2000)
        assert len(local) == 1 and "GRU_STEPPER_PUBLIC_URL" in local[0]


def test_offline_copies_hold_their_numbers_and_plotly():
    gru = make_gru(hidden=4, seed=1)
    ex = worked_example(recompute(gru, torch.randn(5, 5)), [1, 2], [0, 3])
    tables = [terms_table(table, {}) for table in ex.tables]
    page = example_html(ex, tables, "post with <script>alert(1)</script>", "pytorch")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert f"{ex.tables[1].h[1]:.4f}" in page
    import plotly.graph_objects as go
    fig = player_figure(go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 2, 3])), [0, 1, 2],
                        lambda t: [{"type": "line", "x0": t, "x1": t, "y0": 0, "y1": 1}])
    assert len(fig.frames) == 3 and fig.layout.updatemenus[0].buttons[0].method == "animate"
    html = chart_html(fig, "t")
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js is inside


# --- in a real browser -----------------------------------------------------------------------

from pathlib import Path  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

from markdown_it import MarkdownIt  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from dashboard.post import worked_post  # noqa: E402
from gru_core import load_checkpoint  # noqa: E402

from ..browser import CHROMIUM, FLAGS, serve, settle  # noqa: E402
from ..conftest import CHECKPOINTS  # noqa: E402


def post_of(page) -> str:
    settle(page)
    code = page.get_by_test_id("stCode").last
    expect(code).to_contain_text("Worked example", timeout=60_000)
    return code.locator("code").inner_text()


def katex_render(post: str, tmp_path: Path, browser) -> tuple[int, int]:
    """(KaTeX display blocks, KaTeX errors) when Streamlit renders the post."""
    f = tmp_path / f"post{abs(hash(post))}.md"
    f.write_text(post, encoding="utf-8")
    with serve(ROOT / "tests/post_page.py", env={"POST_FILE": str(f)}) as url:
        page = browser.new_page()
        page.goto(url)
        settle(page)
        expect(page.get_by_test_id("stMarkdown").first).to_be_attached(timeout=30_000)
        return page.locator(".katex-display").count(), page.locator(".katex-error").count()


@pytest.mark.chromium
def test_worked_example_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright
    with serve(ROOT / "dashboard/app.py") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?" + urlencode({"view": "example", "ckpt": "shakespeare",
                                          "text": SPEECH}))
        settle(page)
        # build it: two steps, three units
        for label, value in (("Steps", "33,34"), ("Units", "3,17,200")):
            box = page.get_by_label(re.compile(f"^{label} "))
            box.fill(value)
            box.press("Enter")
            settle(page)
        post = post_of(page)
        assert "**t = 33**" in post and "**t = 34**" in post and "h_{prev,200}" in post
        # a local server: the page says so beside the post, and the post itself does not
        assert "GRU_STEPPER_PUBLIC_URL" not in post and "STEPPER" not in post
        expect(page.get_by_test_id("stAlert").filter(has_text="GRU_STEPPER_PUBLIC_URL")
               ).to_have_count(1)
        assert "b_r = b_ir + b_hr" in post.replace("\\", "")  # the mentor's first remark

        # CommonMark: the text is one fenced block, the two $$ blocks come through intact
        tokens = MarkdownIt("commonmark").parse(post)
        assert [t.content for t in tokens if t.type == "fence"] == [SPEECH + "\n"]
        html = MarkdownIt("commonmark").render(post)
        assert html.count(r"\begin{aligned}") == 2
        # KaTeX: both blocks typeset with no error; and a block KaTeX cannot parse is caught
        course = worked_post(worked_example(load_checkpoint(CHECKPOINTS / "shakespeare.pt")
                                            .trace(SPEECH), [0, 34], [3, 17]),
                             "shakespeare", SPEECH, "https://x.org/", "course")
        assert r"\Gamma_{u,17}" in course and r"c^{\langle 33\rangle}_{3}" in course
        assert katex_render(post + "\n\n" + course, tmp_path, browser) == (4, 0)
        broken = "$$\n\\begin{aligned} x &= \\frac{1}{ \\end{aligned}\n$$"
        assert katex_render(broken, tmp_path, browser) != (1, 0)

        # the post's link, in a fresh context, reopens the same numbers
        link = re.search(r"\]\(<(http[^>]+)>\)", post)[1]
        fresh = browser.new_context().new_page()
        fresh.goto(link)
        assert post_of(fresh) == post

        # the offline copy of the example opens with no server
        with page.expect_download() as dl:
            page.get_by_role("button", name=re.compile("Offline copy: this worked example")
                             ).click()
        saved = tmp_path / "example.html"
        dl.value.save_as(saved)
        offline = browser.new_context(offline=True).new_page()  # no network at all
        offline.goto(saved.as_uri())
        assert offline.locator("#post").inner_text() == post
        expect(offline.locator("table")).to_have_count(2)
        # its math is typeset by the bundled KaTeX, with its own fonts, and no error
        expect(offline.locator(".katex-display")).to_have_count(2)
        expect(offline.locator(".katex-error")).to_have_count(0)
        assert offline.evaluate("document.fonts.check('16px KaTeX_Main')")

        # the stepper's chart: its offline copy's player runs with no server
        page.goto(f"{url}/?" + urlencode({"ckpt": "shakespeare", "text": SPEECH, "t": 33,
                                          "unit": 3}))
        settle(page)
        with page.expect_download() as dl:
            page.get_by_role("button", name=re.compile("Offline copy of the chart")).click()
        saved = tmp_path / "chart.html"
        dl.value.save_as(saved)
        chart = browser.new_page()
        chart.goto(saved.as_uri())
        expect(chart.locator("#chart .main-svg").first).to_be_attached(timeout=30_000)
        x0 = "document.getElementById('chart').layout.shapes[0].x0"
        assert chart.evaluate(x0) == 33
        chart.locator(".updatemenu-button").first.click()  # ▶ play
        chart.wait_for_function(f"{x0} > 34", timeout=5_000)  # on from t, not from 0
        # at the end, ▶ play starts again from the first step
        chart.locator(".updatemenu-button").nth(1).click()  # pause
        last = len(SPEECH) - 1  # every step of the text (a character model: one a character)
        assert chart.evaluate("document.getElementById('chart')._transitionData._frames"
                              ".map(f => +f.name)") == list(range(last + 1))
        chart.evaluate(f"Plotly.animate('chart', ['{last}'], "
                       "{frame: {duration: 0}, mode: 'immediate'})")
        chart.wait_for_function(f"{x0} == {last}", timeout=5_000)
        chart.locator(".updatemenu-button").first.click()
        chart.wait_for_function(f"{x0} < 5", timeout=5_000)
        browser.close()


# --- the cell drawn ----------------------------------------------------------------------------


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_cell_figure_carries_the_cards_numbers(notation):
    from dashboard.export import f4
    from dashboard.views.stepper.cell import cell_figure
    from gru_core import load_checkpoint, step_card

    from ..conftest import CHECKPOINTS
    tt = load_checkpoint(CHECKPOINTS / "shakespeare.pt").trace(SPEECH)
    card = step_card(tt, 34, 17)
    fig = cell_figure(card.terms, notation, card.token, 34, 17)
    on = {a.name: a.text for a in fig.layout.annotations}
    T = card.terms
    z = 1 - T["z"] if notation == "course" else T["z"]
    for key, value in (("h_prev", T["h_prev"]), ("r", T["r"]), ("z", z), ("n", T["n"]),
                       ("keep", T["keep"]), ("new", T["new"]), ("h", T["h"]),
                       ("r_hn", T["r_hn"]), ("hn", T["hn"]), ("in", T["in"])):
        assert on[key].endswith(f"= {f4(value)}"), (key, on[key])
    assert ("box:Γr σ" in on) == (notation == "course") and ("box:r σ" in on) != (
        notation == "course")


def _step_chart_spec(at, name: str = "live_chart") -> dict:
    import json
    return next(json.loads(json.loads(c.proto.json)["spec"]) for c in at.get("bidi_component")
                if c.proto.component_name == name)


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_stepper_draws_the_cell_with_the_cards_numbers_at_every_step(notation):
    """The cell is drawn beside the card, at t, with its labels at every step the player
    holds: at each step they are the step card's numbers at that step (and plain nn.GRU's, to
    the printed digits)."""
    from dashboard.export import f4
    from dashboard.views.stepper.cell import labels
    from gru_core import load_checkpoint, step_card

    from ..conftest import CHECKPOINTS
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"ckpt": "shakespeare", "text": SPEECH, "t": "34", "unit": "17",
                            "notation": notation})
    at.run()
    assert not at.exception  # the cell is drawn on first load, with no toggle
    spec = _step_chart_spec(at, "live_cell")
    on = {a["name"]: a["text"] for a in spec["cell"]["layout"]["annotations"]}
    assert spec["cell"]["layout"]["title"]["text"] == "The GRU cell at t = 34, unit 17"
    tt = load_checkpoint(CHECKPOINTS / "shakespeare.pt").trace(SPEECH)
    frames = {f["t"]: f["labels"] for f in spec["steps"]}
    for t in (0, 20, 34, 35, len(SPEECH) - 1):
        card = step_card(tt, t, 17)
        assert frames[t] == labels(card.terms, notation, card.token, t, 17), t
        T = card.terms
        z = 1 - T["z"] if notation == "course" else T["z"]
        for key, value in (("h_prev", T["h_prev"]), ("r", T["r"]), ("z", z), ("n", T["n"]),
                           ("keep", T["keep"]), ("new", T["new"]), ("h", T["h"]),
                           ("r_hn", T["r_hn"]), ("hn", T["hn"]), ("in", T["in"])):
            assert frames[t][key].endswith(f"= {f4(value)}"), (t, key, frames[t][key])
    assert all(on[k] == v for k, v in frames[34].items() if k != "title")
    g = ref.gates("shakespeare", SPEECH)
    for key in ("h_prev", "r", "n", "h"):
        shown = float(on[key].rsplit("= ", 1)[1].replace("−", "-"))
        assert shown == pytest.approx(float(g[key][34, 17]), abs=6e-5), key


@pytest.mark.parametrize("ckpt, layer", [("shakespeare", 0), ("shakespeare-2layer", 1)])
def test_step_terms_over_a_window_are_the_step_cards_terms(ckpt, layer):
    """What the player's cell shows at each step (step_terms, read over a window at once) is,
    number for number, what the step card reads at that step alone."""
    from gru_core import WIRES, load_checkpoint, step_card, step_terms

    from ..conftest import CHECKPOINTS
    tt = load_checkpoint(CHECKPOINTS / f"{ckpt}.pt").trace(SPEECH)
    rows = step_terms(tt, 17, layer, 0, slice(5, 45))
    assert [r["t"] for r in rows] == list(range(5, 45))
    for row in rows[::7] + rows[-1:]:
        card = step_card(tt, row["t"], 17, layer, 0).terms
        assert {*WIRES, "r_hn"} == set(row) - {"t"}
        assert {k: row[k] for k in row if k != "t"} == {k: card[k] for k in row if k != "t"}


def test_the_chart_frames_plotly_js_draws_every_trace_it_is_sent_at_the_plotly_packages_version():
    """The step chart's frame loads plotly.js's cartesian bundle (live_chart.PLOTLY_JS, a
    third of the full one's size): it must hold every trace type the chart and the cell are
    sent, and be the plotly.js version the plotly package writes its figures for."""
    import re
    from pathlib import Path

    import plotly

    from dashboard import live_chart
    bundle = live_chart.PLOTLY_JS.read_bytes()
    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # the full one
    version = re.compile(rb"\* plotly\.js (?:\([^)]*\) )?v(\d+\.\d+\.\d+)")
    assert version.search(bundle[:300]).group(1) == \
        version.search(shipped.read_bytes()[:300]).group(1)
    traces = set(re.findall(rb'moduleType:"trace",name:"(\w+)"', bundle))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"ckpt": "shakespeare", "text": SPEECH, "t": "34", "unit": "17"})
    at.run()
    spec, cell = _step_chart_spec(at), _step_chart_spec(at, "live_cell")
    sent = {d.get("type", "scatter").encode() for d in spec["data"] + cell["cell"]["data"]}
    assert {b"bar", b"scatter", b"heatmap"} <= sent <= traces
    assert len(traces) < 20  # the cartesian bundle, not the full one (47 trace types)
