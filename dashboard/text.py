"""How tokens and the text are written on the page, and how a foreign value (from a URL, a typed
text, a vocabulary or a file name) enters a Markdown string without being rendered.

The app's one Markdown-quoting module: the page's notices and the forum posts quote here.

Streamlit's st.markdown / st.warning / st.info / st.error / st.caption parse Markdown with GFM
(links, images, bare-URL autolinks), KaTeX math and its own :color[...] directives; with
unsafe_allow_html an HTML block also ends at a blank line and the rest is Markdown again. So a
foreign value goes in as an inline code span (nothing inside one is parsed) and the text display
is one HTML line with every Markdown character written as an entity.
"""

from __future__ import annotations

import html
import re

VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}
# line breaks would end a code span; direction overrides would turn the rest of the notice around
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|$~])")  # not ( ): \( opens math in some sites
_MARKDOWN = set("\\`*_{}[]()<>#+-.!|~$:&'\"=^%@")  # written as entities in the text display


def show_token(tok: str) -> str:
    """A token as the page writes it: whitespace made visible."""
    return VISIBLE.get(tok, tok)


def code_span(value: str) -> str:
    """`value` as a CommonMark inline code span: a backtick run longer than any inside it, and a
    space on each side (CommonMark strips exactly one), so the value cannot close it."""
    fence = "`" * (_longest_run(value) + 1)
    return f"{fence} {value} {fence}"


def _longest_run(value: str) -> int:
    return max((len(run) for run in re.findall(r"`+", value)), default=0)


def fenced(text: str) -> str:
    """The text verbatim in a fenced code block its content cannot close: the fence is longer
    than any backtick run in it, so no line of the text ends the block or is parsed as Markdown,
    math or forum markup (lists, rules, `$$`, `</details>`, HTML)."""
    fence = "`" * max(3, _longest_run(text) + 1)
    return f"{fence}text\n{text}\n{fence}"


def md_escape(s: str) -> str:
    """Our own plain text -> Markdown that shows exactly these characters."""
    return _MD_SPECIAL.sub(r"\\\1", s)


def no_math(line: str) -> str:
    """Our own Markdown sentence outside a math block: a `$` in it would open math on a forum."""
    return line.replace("$", r"\$")


def plain(value: object, limit: int = 40) -> str:
    """A foreign value, Markdown-inert, for a notice: at most `limit` characters (then "…"),
    line breaks and control characters made visible, inside an inline code span."""
    return code_span(plain_text(value, limit))


def plain_text(value: object, limit: int = 40) -> str:
    """What plain(value) shows inside its code span: for a page that sets it as text."""
    s = str(value)
    s = s if len(s) <= limit else s[:limit] + "…"
    return _CONTROL.sub(lambda m: VISIBLE.get(m.group(), "�"), s)


def _inert(s: str) -> str:
    """Text for an HTML line Markdown never sees as Markdown: HTML-escaped, every Markdown or
    KaTeX character as a numeric entity, line breaks as <br> (so there is never a blank line)."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    out = "".join(f"&#{ord(c)};" if c in _MARKDOWN else html.escape(c) for c in s)
    return out.replace("\n", "<br>")


SLACK = 40  # characters: a line cut by this few or fewer is shown whole


def text_window(text: str, a: int, b: int, around: int = 160, lines: int | None = None
                ) -> tuple[int, int]:
    """The part [lo, hi) of `text` shown around the token at [a, b): about `around` characters
    each side, cut at a line's or a word's edge, and at most `lines` lines (the token's, and
    those before it). A line cut SLACK characters or less from its edge is shown whole (a
    speaker's name stays: "PROSPERO:", not "…:"); a longer one is cut between words."""
    lo, hi = max(0, a - around), min(len(text), b + around)
    if lo > 0:
        start = text.rfind("\n", 0, lo) + 1
        space = re.search(r"\s", text[lo:a])
        lo = start if lo - start <= SLACK else lo + space.end() if space else lo
    if hi < len(text):
        end = text.find("\n", hi) % (len(text) + 1)  # no line break left: the text's end
        space = [m.start() for m in re.finditer(r"\s", text[b:hi])]
        hi = end if end - hi <= SLACK else b + space[-1] if space else hi
    if lines is not None:
        lo, hi = _lines(text, lo, hi, a, b, lines)
    return (0 if not text[:lo].strip() else lo), (len(text) if not text[hi:].strip() else hi)


def _lines(text: str, lo: int, hi: int, a: int, b: int, lines: int) -> tuple[int, int]:
    """[lo, hi) narrowed to `lines` whole lines: the token's and the lines before it (after
    it, where it is on the first)."""
    starts = [lo] + [i + 1 for i in range(lo, hi - 1) if text[i] == "\n"]
    k = max(i for i, s in enumerate(starts) if s <= a)  # the token's line
    first = max(0, min(k - lines + 1, len(starts) - lines))
    last = first + lines  # the first line not shown
    return starts[first], max(b, starts[last] - 1 if last < len(starts) else hi)


DISPLAY = 100, 2  # characters each side of t, lines: the display's two lines at most, so
# the stepper's card and cell stay on a 1280×720 screen whatever the text


def highlighted_text(text: str, spans: list[tuple[int, int]], t: int, around: int = DISPLAY[0],
                     lines: int | None = DISPLAY[1]) -> str:
    """The text around token t, with token t marked: one line of HTML for
    st.markdown(unsafe_allow_html=True) that shows the text exactly, its line breaks included.
    "…" stands where text is left out: before the first word shown and after the last, on
    their lines."""
    a, b = spans[t]
    lo, hi = text_window(text, a, b, around, lines)
    head = "" if not lo else "… "
    tail = "" if hi == len(text) else " …"
    token = text[a:b]
    here = _inert(show_token(token)) + ("<br>" if token == "\n" else "")
    return (f"<div style='font-family:monospace;white-space:pre-wrap;line-height:1.6'>"
            f"{head}{_inert(text[lo:a])}<mark style='background:#ffd54f;"
            f"padding:0 2px;border-radius:3px;font-weight:bold' title='t = {t}'>{here}</mark>"
            f"{_inert(text[b:hi])}{tail}</div>")


def file_label(filename: str, cap: int = 40) -> str:
    """An uploaded model's name, after its file: 'upload my_gru.pt'. Only letters, digits and
    . _ - are kept (the name goes into code spans, posts and file names), at most `cap`."""
    kept = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_")[:cap]
    return f"upload {kept or 'file'}"
