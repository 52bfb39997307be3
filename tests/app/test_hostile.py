"""Hostile input: Markdown, HTML, KaTeX and forum markup through every URL parameter, the text,
the vocabulary and the model's name. Nothing of it may be rendered: the notices' Markdown
bodies (parsed by a CommonMark parser, as Streamlit's own parser would see them), the page in
headless Chromium (no element made from the payload, no request to another host) and the
forum post (parsed by markdown-it-py) all keep it as plain text.
"""

import html
import io
import re
import string
from urllib.parse import urlencode, urlparse

import pytest
import torch
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboard.export import forum_post
from dashboard.text import DISPLAY, highlighted_text, plain, text_window
from gru_core import load_checkpoint, step_card, trace_text

from ..browser import chromium, serve, settle
from ..conftest import ROOT, open_app

APP = str(ROOT / "dashboard/app.py")
COURSE = "The cats, which already ate the fish, were full."
EVIL = "evil.example"
PAYLOADS = {
    "link": "[Log in again](https://evil.example/login) ![t](https://evil.example/p.png)",
    "html": "<img src=x onerror=alert(1)><script src=https://evil.example/s.js></script>",
    "katex": r"$$\href{https://evil.example/k}{click}$$ $\unicode{x41}$",
    "forum": "</details>\n\n- item\n---\n$$\n# head\n> quote\n<a href=https://evil.example>x</a>",
    "ticks": "`` ` ```` www.evil.example :red[red] <https://evil.example/auto> **b**",
}
PARAMS = ("view", "ckpt", "text", "t", "unit", "layer", "direction", "notation", "s", "input",
          "bogus")
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
MADE = {"link_open", "image", "html_inline", "html_block", "bullet_list_open",
        "ordered_list_open", "hr", "heading_open", "blockquote_open", "fence", "code_block"}


def walk(tokens):
    for tok in tokens:
        yield tok
        yield from walk(tok.children or [])


def assert_inert(body: str) -> None:
    """A notice's Markdown makes nothing: no element, and the payload only inside code spans
    (a text node with a URL would be autolinked by GFM, one with `$` parsed as math)."""
    for tok in walk(MD.parse(body)):
        assert tok.type not in MADE or (tok.type == "link_open"
                                        and tok.attrGet("href").startswith("?")), (tok, body)
        if tok.type == "text":
            for bad in ("evil", "$", "<img", "<script", "<a ", "</details", ":red[", "](",
                        "onerror", "\\href"):
                assert bad not in tok.content, (bad, body)


# The stepper's card (views/stepper/cards.py, markdown): paragraphs of one bold name and one inline
# math span of ours, in the card's size; no value from outside enters it.
CARD = re.compile(r"(\*\*[^*$`]+:\*\* )?\$\\(small|footnotesize) [^$`]*\$( \([\w ]+\))?")


def bodies(at) -> list[str]:
    """Every Markdown body the page shows, except the text display (HTML, checked below) and
    the step card's math."""
    out = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "subheader"):
        out += [el.value for el in at.get(kind) if not getattr(el.proto, "allow_html", False)
                and not all(CARD.fullmatch(p) for p in el.value.split("\n\n"))]
    return out


def test_plain_truncates_and_quotes_any_backtick_run():
    assert plain("x" * 5000).startswith("` " + "x" * 40 + "… `")
    assert plain("a```b") == "```` a```b ````"
    assert plain("a\n\nb") == "` a↵↵b `"  # a blank line would end the code span's paragraph
    assert plain("abc\u202edef") == "` abc�def `"  # no right-to-left override of the notice
    for payload in PAYLOADS.values():
        assert_inert(f"Unknown model {plain(payload)}: showing agreement.")


@pytest.mark.parametrize("name", PAYLOADS)
@pytest.mark.parametrize("param", PARAMS)
def test_payload_in_any_url_parameter_is_named_as_plain_text(param, name):
    payload = PAYLOADS[name]
    at = open_app(**{"ckpt": "agreement", "text": COURSE, "t": 5, param: payload})
    assert not at.exception
    shown = bodies(at)
    for body in shown:
        assert_inert(body)
    if param == "text":  # the agreement model cannot read it: the error names the characters
        named = [b for b in shown if "characters not in its vocabulary: `" in b]
    else:
        named = [b for b in shown if plain("bogus" if param == "bogus" else payload) in b]
    assert named, f"no notice names {param}={payload!r}: {shown}"


def test_repeated_and_non_ascii_parameters_are_named():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = "agreement"
    at.query_params["text"] = COURSE
    at.query_params["t"] = ["3", "7"]
    at.query_params["unit"] = "١٠"  # Arabic-Indic ten: int() reads it
    at.query_params["s"] = "1_0"  # int() reads 10
    at.run()
    notices = [w.value for w in at.warning]
    assert any("t is given 2 times; using the last, t=` 7 `" in n for n in notices), notices
    assert any("unit=` ١٠ ` is not a whole number" in n for n in notices), notices
    assert any("s=` 1_0 ` is not a whole number" in n for n in notices), notices
    assert at.slider[0].value == 7 and at.number_input(key="unit").value == 0


@pytest.mark.parametrize("params, message", [
    ({"notation": "xyz"}, "Unknown notation ` xyz `"),
    ({"layer": "7"}, "layer=7 is outside 0..0 (layers of this model)"),
    ({"direction": "1"}, "direction=1 is outside 0..0 (this model reads forward only)"),
    ({"t": "9" * 5000}, "t=` 9999999999999999999999999999999999999999… ` is not a whole"),
    ({"t": " 5"}, "t=`  5 ` is not a whole number"),
    ({"bogus": "1"}, "Unknown URL parameter ` bogus ` ignored"),
])
def test_dropped_or_clamped_parameters_are_named(params, message):
    at = open_app(**{"ckpt": "agreement", "text": COURSE, **params})
    assert not at.exception
    assert any(message in w.value for w in at.warning), [w.value for w in at.warning]
    assert all(len(w.value) < 300 for w in at.warning)  # a 5,000-digit t is not echoed whole


def test_text_display_is_one_html_line_that_markdown_leaves_alone():
    text = "a\n\n- item\n---\n$$x$$\n\n3. three\n   indented"
    at = open_app(ckpt="shakespeare", text=text, t=4)
    assert not at.exception
    shown = [el.value for el in at.markdown if el.proto.allow_html]
    assert len(shown) == 1 and "\n" not in shown[0]
    tokens = MD.parse(shown[0])
    assert [t.type for t in tokens] == ["html_block"]  # the whole display is raw HTML
    for body in bodies(at):
        assert_inert(body)


def test_highlighted_text_escapes_every_markdown_character():
    text = PAYLOADS["forum"] + PAYLOADS["link"] + PAYLOADS["katex"]
    spans = [(i, i + 1) for i in range(len(text))]
    out = highlighted_text(text, spans, text.index("\n"))
    assert "\n" not in out
    inner = re.sub(r"<br>|<mark[^>]*>|</mark>|<div[^>]*>|</div>", "", out)
    for ch in "$*_[]`#->|~\\<:!":
        assert ch not in re.sub(r"&#[0-9]+;", "", inner), ch
    t = text.index("\n")
    lo, hi = text_window(text, t, t + 1, *DISPLAY)
    assert lo == 0
    seen = html.unescape(re.sub(r"<mark[^>]*>|</mark>|<div[^>]*>|</div>", "", out)
                         .replace("<br>", "\n"))
    tail = "" if hi == len(text) else " …"
    assert seen == text[:t] + "↵\n" + text[t + 1:hi] + tail  # exactly the text, line breaks kept
    assert out.count("<br>") == text[:hi].count("\n")  # the marked newline shows ↵ and breaks


def printable_checkpoint():
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"encoder": torch.nn.Embedding(100, 8),
                                 "rnn": torch.nn.GRU(8, 16), "decoder": torch.nn.Linear(16, 100)})
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def test_forum_post_fences_the_text_and_quotes_token_and_model():
    text = "\n".join(PAYLOADS.values()) + "\n```\n~~~\n`````"
    ck = load_checkpoint(printable_checkpoint(), list(string.printable))
    tt = trace_text(ck, text)
    t = text.index("`")
    post = forum_post(step_card(tt, t, 3), "[m](https://evil.example/m) `x`", text,
                      "http://127.0.0.1:8501/?view=step", "pytorch",
                      ["Headline costs $5.", "unit 3: $x$ kept"])
    tokens = list(walk(MD.parse(post)))
    fences = [tok for tok in tokens if tok.type == "fence"]
    assert len(fences) == 1 and fences[0].content == text + "\n"  # verbatim, every line
    links = [tok.attrGet("href") for tok in tokens if tok.type == "link_open"]
    assert links == ["http://127.0.0.1:8501/?view=step"]  # only the post's own link
    for tok in tokens:
        assert tok.type not in {"image", "html_inline", "html_block", "hr", "heading_open",
                                "blockquote_open", "code_block"}, tok
    items = [tok for tok in tokens if tok.type == "list_item_open"]
    assert len(items) == 1  # the summary's one sentence, nothing from the text
    code = [tok.content for tok in tokens if tok.type == "code_inline"]
    assert "[m](https://evil.example/m) `x`" in code and "`" in code  # model and token
    outside = post.replace(fences[0].content, "")
    math = outside[outside.index("$$\n"):outside.rindex("\n$$") + 3]
    rest = outside.replace(math, "")
    assert rest.count("$") == rest.count(r"\$") == 3  # the summary's dollars, escaped


@pytest.fixture(scope="module")
def page():
    with chromium() as page:
        page.requested, page.dialogs = [], []
        page.on("request", lambda r: page.requested.append(r.url))
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        yield page


def nothing_made(page) -> None:
    """No element from a payload in the page or its frames, no request off 127.0.0.1, no alert."""
    for frame in page.frames:
        made = frame.evaluate("""() => [...document.querySelectorAll(
            'a[href*="evil"], img[src*="evil"], img[src="x"], script[src*="evil"], [onerror],'
            + ' .katex a, .katex [href]')].map(e => e.outerHTML)""")
        assert made == [], made
    hosts = {urlparse(u).hostname for u in page.requested if not u.startswith(("data:", "blob:"))}
    assert hosts <= {"127.0.0.1"}, hosts
    assert page.dialogs == []
    assert page.get_by_test_id("stException").count() == 0


@pytest.mark.chromium
@pytest.mark.parametrize("param", PARAMS)
def test_payloads_in_the_url_make_nothing_in_chromium(app_url, page, param):
    payload = " ".join(PAYLOADS.values())
    page.goto(f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": COURSE, "t": 5,
                                          param: payload}))
    settle(page)
    expect_notice = page.locator("[data-testid=stAlert] code")
    assert expect_notice.count() >= 1  # the value is named, as code
    nothing_made(page)


@pytest.mark.chromium
def test_hostile_text_on_a_printable_vocabulary_shows_exactly_in_chromium(app_url, page,
                                                                           tmp_path):
    from playwright.sync_api import expect

    text = "\n".join(PAYLOADS.values())
    (tmp_path / "printable.pt").write_bytes(printable_checkpoint())
    page.goto(f"{app_url}/?" + urlencode({"ckpt": "agreement", "text": text, "t": 3}))
    settle(page)
    nothing_made(page)  # the agreement model cannot read it: the notice names the characters
    page.locator(".st-key-ckpt").click()
    page.get_by_role("option", name="upload your own…").click()
    settle(page)
    page.locator("input[type=file]").first.set_input_files(str(tmp_path / "printable.pt"))
    settle(page)
    page.locator(".st-key-vocab_source").click()
    page.get_by_role("option", name="string.printable (100 characters: spro/char-rnn.pytorch)"
                     ).click()
    settle(page)
    display = page.locator("[data-testid=stMarkdownContainer] div[style*=pre-wrap]")
    expect(display).to_have_count(1)  # waits: the upload's trace may still be running
    shown = display.inner_text()  # what the reader sees: the text, exactly
    lo, hi = text_window(text, 3, 4, *DISPLAY)  # the display's window, cut between words
    tail = " …"
    assert lo == 0 and shown == text[:hi] + tail, (shown, text)
    nothing_made(page)
    # the forum post: the text inside its fence, as the st.code block shows it
    page.get_by_text("Copy as forum post, or download the numbers").click()
    settle(page)
    post = page.locator("[data-testid=stCode] code").first.inner_text()
    fences = [tok for tok in MD.parse(post) if tok.type == "fence"]
    assert len(fences) == 1 and fences[0].content == text + "\n"
    nothing_made(page)


def test_the_charts_plotly_js_is_served_from_the_static_folder_and_nothing_else():
    """The step chart's script loads plotly.js and KaTeX from the app's static folder (served
    with an ETag: .streamlit/config.toml turns its serving on), which holds those two files
    only, copied from the ones the app ships; the component's JS, sent with every rerun, holds
    no copy, and sets no HTML but KaTeX's markup of the server's LaTeX."""
    from dashboard import live_chart

    assert live_chart._static_plotly() and live_chart._static("katex.min.js", live_chart.KATEX_JS)
    assert sorted(p.name for p in live_chart.STATIC.iterdir()) == ["katex.min.js", "plotly.min.js"]
    assert (live_chart.STATIC / "plotly.min.js").read_bytes() == live_chart.PLOTLY_JS.read_bytes()
    assert (live_chart.STATIC / "katex.min.js").read_bytes() == live_chart.KATEX_JS.read_bytes()
    js = live_chart.JS  # as sent: chart.js without its comment lines
    assert len(js) < 30_000 and js.count("innerHTML") == 1 and "\n//" not in js
    assert "math.innerHTML = katexLib.renderToString(line.math" in js


def hosted_env() -> dict[str, str]:
    """The Dockerfile's --section.option=value flags, as Streamlit's STREAMLIT_* variables."""
    cmd = (ROOT / "Dockerfile").read_text().split("\nCMD ", 1)[1]
    flags = re.findall(r'"--([a-zA-Z]+)\.([a-zA-Z]+)=([^"]+)"', cmd)
    return {"STREAMLIT_" + re.sub(r"(?<!^)(?=[A-Z])", "_", f"{s}_{o}").upper(): v
            for s, o, v in flags if s != "server" or o == "fileWatcherType"}


def test_dockerfile_has_the_hosted_settings():
    env = hosted_env()
    assert env["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] in ("none", "type")
    assert env["STREAMLIT_CLIENT_TOOLBAR_MODE"] == "viewer"
    assert env["STREAMLIT_SERVER_FILE_WATCHER_TYPE"] == "none"


@pytest.mark.chromium
def test_hosted_settings_hide_the_deploy_button(page):
    with serve(ROOT / "dashboard/app.py") as url:  # developer defaults: the menu is there
        page.goto(f"{url}/?ckpt=agreement")
        settle(page)
        assert page.get_by_test_id("stAppDeployButton").count() == 1
    with serve(ROOT / "dashboard/app.py", env=hosted_env()) as url:
        page.goto(f"{url}/?ckpt=agreement")
        settle(page)
        assert page.get_by_test_id("stAppDeployButton").count() == 0
        nothing_made(page)


@pytest.mark.chromium
def test_hosted_settings_show_no_traceback(page, tmp_path):
    """An error the app did not catch shows its traceback (file paths, code) under the
    developer defaults; under the hosted settings the visitor sees none of it."""
    script = tmp_path / "boom.py"
    script.write_text("def secret_function():\n    raise ValueError('/srv/secret/path')\n\n"
                      "secret_function()\n")
    shown = {}
    for name, env in (("developer", None), ("hosted", hosted_env())):
        with serve(script, env=env) as url:
            page.goto(url)
            settle(page)
            shown[name] = page.locator("[data-testid=stApp]").inner_text()
    assert "secret_function" in shown["developer"]  # the check can fail: a traceback is there
    for leak in ("secret_function", "/srv/secret/path", "boom.py", "Traceback"):
        assert leak not in shown["hosted"], shown["hosted"]


def test_chart_labels_from_a_hostile_vocabulary_are_escaped():
    """Plotly draws <a href>, <b>, <span style> found in a label: a token is escaped first."""
    import json

    from dashboard import charts

    tok = '<a href="https://evil.example/v">v</a>'
    bars = charts.prediction_chart([(tok, 0.5), ("b", 0.2)], "Next token").to_plotly_json()
    ticks = charts._token_ticks([0, 1], [tok, "b"])
    for shown in (json.dumps(bars["data"][0]["y"]), json.dumps(ticks["ticktext"])):
        assert "<a" not in shown and "&lt;a href=\\\"https" in shown
