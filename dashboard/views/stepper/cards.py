"""The step card as parts: plain text and LaTeX, formatted here from gru_core's StepCard.

The server draws the card at t from its parts with Streamlit (draw); the chart's window of
cards goes to the browser with the page (live_chart.live_card), which shows the card of the
step ◀ ▶, a key or the slider moved to at once, from the same parts, while the server follows.
So the two are the same text by construction: the browser only places the parts (text as
textContent, LaTeX typeset by KaTeX, as Streamlit's Markdown typesets it), and computes nothing.
"""

from __future__ import annotations

import re

import streamlit as st

from gru_core import SYMBOLS, StepCard, fmt_e

from ...export import comparison, course_latex, differences, f4, own_name, pytorch_latex
from ...text import code_span, plain_text, show_token

NAMED = re.compile(r"^(?P<math>.*?)\\quad\\text\{(?P<name>[^{}]*)\}$")


def parts(card: StepCard, notation: str, size: str = r"\small", layers: int = 1) -> dict:
    """The card at card.t: heading (and the token read, shown as code; the layer, where the
    model has `layers` > 1), the equations, the check against the framework's own h, and,
    where the model's formula is not PyTorch's, the comparison."""
    T, h = card.terms, SYMBOLS[notation]["h"]
    latex = course_latex(card) if notation == "course" else pytorch_latex(card)
    diff = "0 (bit for bit)" if T["h_diff"] == 0 else fmt_e(T["h_diff"])
    return {
        "t": card.t,
        "unit": card.unit,
        "heading": f"Step t = {card.t}, unit {card.unit}"
                   + (f" of layer {card.layer}" if layers > 1 else "") + ": reading ",
        "token": plain_text(show_token(card.token)),
        "lines": [_line(line, size) for line in latex],
        "verify": [["Recomputed ", False], [f"{h} = {f4(T['h'])}", True],
                   [f" · {own_name(card)}'s own output ", False], [f4(T["h_gru"]), True],
                   [" · difference ", False], [diff, True]],
        "caption": _caption(card, notation),
        "comparison": (comparison(card)
                       if notation == "pytorch" and not card.reset_after else None),
        "differences": _differences(card) if notation == "course" else None,
    }


def _differences(card: StepCard) -> dict:
    """PyTorch's GRU vs the course's at this step (export.differences): its bold lead, then
    the text."""
    m = BOLD_LEAD.match(differences(card))
    return {"lead": m["lead"], "text": m["text"]}


BOLD_LEAD = re.compile(r"^\*\*(?P<lead>[^*]+)\*\* (?P<text>.*)$", re.S)


def _line(line: str, size: str) -> dict:
    """An equation led by its name (the LaTeX's trailing \\quad\\text{name}), or followed by
    it where it is a remark in parentheses."""
    m = NAMED.match(line)
    math, name = (m["math"], m["name"]) if m else (line, "")
    if name.startswith("("):
        return {"name": "", "math": f"{size} {math}", "after": name}
    return {"name": name, "math": f"{size} {math}", "after": ""}


def _caption(card: StepCard, notation: str) -> str:
    form = card.update_form
    if notation == "course":  # the same order of operations, in the course's symbols
        S = SYMBOLS["course"]
        form = (f"({S['h_prev']} − {S['n']})·(1 − {S['u']}) + {S['n']}"
                if card.convention == "pytorch"
                else f"(1 − {S['u']})·{S['h_prev']} + {S['u']}·{S['n']}")
    split = _split(card.terms["split_diff"]) if card.convention == "pytorch" else ""
    return f"Recomputed in {own_name(card)}'s order, {form}, from the gates above.{split}"


def _split(diff: float) -> str:
    """What summing kept + new, the textbook form, gives against the framework's own order."""
    if diff == 0:
        return " Summing kept + new gives the same number here."
    return f" Summing kept + new instead rounds differently in float32: {fmt_e(diff)}."


def markdown(lines: list[dict]) -> str:
    """The equations as Markdown paragraphs of inline math, each led by its name: inline math
    wraps at the relations and operators where a line is wider than its column, where a
    display block would scroll sideways."""
    out = []
    for line in lines:
        math = f"${line['math']}$"
        if line["after"]:
            out.append(f"{math} {line['after']}")
        else:
            out.append((f"**{line['name']}:** " if line["name"] else "") + math)
    return "\n\n".join(out)


def draw(p: dict) -> None:
    """The card from its parts, with Streamlit, in one keyed block the browser's card replaces
    while the server follows a step (chart.js, showCard)."""
    with st.container(key="card_server"):
        st.subheader(p["heading"] + code_span(p["token"]))
        st.markdown(markdown(p["lines"]))
        st.markdown("".join(f"**{text}**" if bold else text for text, bold in p["verify"]))
        st.caption(p["caption"])
        if p["comparison"]:
            st.info(p["comparison"])


def draw_differences(p: dict) -> None:
    """The course's differences from the card's parts, in a keyed block the browser's copy
    replaces while the server follows a step (chart.js, fillDifferences)."""
    with st.container(key="diff_server"):
        st.info(f"**{p['lead']}** {p['text']}")
