"""How tokens and the text are written on the page."""

from __future__ import annotations

import html
import re

VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}


def show_token(tok: str) -> str:
    """A token as the page writes it: whitespace made visible."""
    return VISIBLE.get(tok, tok)


def highlighted_text(text: str, spans: list[tuple[int, int]], t: int, around: int = 160) -> str:
    """The text around token t, with token t marked (HTML)."""
    a, b = spans[t]
    lo, hi = max(0, a - around), min(len(text), b + around)
    before, here, after = (html.escape(s) for s in (text[lo:a], text[a:b], text[b:hi]))
    here = html.escape(show_token(text[a:b])) if text[a:b] in VISIBLE else here
    return (f"<div style='font-family:monospace;white-space:pre-wrap;line-height:1.6'>"
            f"{'…' if lo else ''}{before}<mark style='background:#ffd54f;padding:0 2px;"
            f"border-radius:3px;font-weight:bold' title='t = {t}'>{here}</mark>{after}"
            f"{'…' if hi < len(text) else ''}</div>")


def file_label(filename: str, cap: int = 40) -> str:
    """An uploaded model's name, after its file: 'upload my_gru.pt'. Only letters, digits and
    . _ - are kept (the name goes into code spans, posts and file names), at most `cap`."""
    kept = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_")[:cap]
    return f"upload {kept or 'file'}"
