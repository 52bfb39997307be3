"""The worked example as a forum post: Markdown with one LaTeX block per step, within what
Discourse's MathJax renders (aligned, \\sigma, \\tanh, \\cdot, \\langle; no \\underbrace, no '<t>'),
h_prev's value given so that readers can check each product, and the link that reopens it.

Everything that is not ours (the text, tokens, the model's name) is in a code span or a fenced
block longer than any backtick run in it; our own sentences are escaped, so a '$' or '*' in them
is a character, never math or emphasis.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlparse

import streamlit as st

from gru_core import CONVENTIONS, WorkedExample, tex_num, tex_term

from .copy_button import copy_button
from .selection import MAX_URL_TEXT
from .text import code_span, fenced, md_escape, show_token

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


# the course's names for the two parts of a gate's sum (PyTorch's ir/hr, iz/hz, in/hn)
IN, HID = r"\text{input part}", r"\text{hidden part}"


def step_latex(ex: WorkedExample, i: int, notation: str = "pytorch") -> str:
    """One aligned block: for each unit, h_prev, r, z, n and h with every number used."""
    t, blocks = ex.steps[i], []
    course = notation == "course"
    after = CONVENTIONS[ex.convention].reset_after  # n = tanh(in + r·hn), else tanh(in + hn)
    bias = ({} if ex.biases is None else
            {int(b.unit): b for b in ex.biases.itertuples()})
    for row in map(lambda d: SimpleNamespace(**d), ex.tables[i].to_dict("records")):
        u = int(row.unit)
        if course:
            b = bias.get(u)
            hp, r, z, n, h = (rf"c^{{\langle {t - 1}\rangle}}_{{{u}}}", rf"\Gamma_{{r,{u}}}",
                              rf"\Gamma_{{u,{u}}}", rf"\tilde c_{{{u}}}",
                              rf"c^{{\langle {t}\rangle}}_{{{u}}}")
            rows = [
                rf"{hp} &= {tex_num(row.h_prev)}",
                *([] if b is None else [_b_r(u, b, after)]),
                rf"{r} &= \sigma({IN} + {HID}) = \sigma({tex_term(row.ir)} + {tex_term(row.hr)})"
                rf" = {tex_num(row.r)}",
                rf"{z} &= 1 - \sigma({IN} + {HID}) = 1 - \sigma({tex_term(row.iz)} + "
                rf"{tex_term(row.hz)})"
                rf" = {tex_num(1 - row.z)}",
                (rf"{n} &= \tanh({IN} + \Gamma_r \cdot {HID}) = "
                 rf"\tanh({tex_term(getattr(row, 'in'))}"
                 rf" + {tex_num(row.r)} \cdot {tex_term(row.hn)}) = {tex_num(row.n)}" if after else
                 rf"{n} &= \tanh({IN} + W_c(\Gamma_r \odot c^{{\langle {t - 1}\rangle}})) = "
                 rf"\tanh({tex_term(getattr(row, 'in'))} + {tex_term(row.hn)}) = {tex_num(row.n)}"),
                rf"{h} &= (1 - \Gamma_u) \cdot c^{{\langle {t - 1}\rangle}} + \Gamma_u \cdot"
                rf" \tilde c = {tex_num(row.z)} \cdot {tex_term(row.h_prev)} + "
                rf"{tex_num(1 - row.z)} \cdot {tex_term(row.n)} = {tex_term(row.keep)} + "
                rf"{tex_term(row.new)} = {tex_num(row.h)}",
            ]
        else:
            rows = [
                rf"h_{{prev,{u}}} &= {tex_num(row.h_prev)}",
                rf"r_{{{u}}} &= \sigma(ir + hr) = \sigma({tex_term(row.ir)} + {tex_term(row.hr)})"
                rf" = {tex_num(row.r)}",
                rf"z_{{{u}}} &= \sigma(iz + hz) = \sigma({tex_term(row.iz)} + {tex_term(row.hz)})"
                rf" = {tex_num(row.z)}",
                (rf"n_{{{u}}} &= \tanh(in + r \cdot hn) = \tanh({tex_term(getattr(row, 'in'))} + "
                 rf"{tex_num(row.r)} \cdot {tex_term(row.hn)}) = {tex_num(row.n)}" if after else
                 rf"n_{{{u}}} &= \tanh(in + W_{{hn}}(r \odot h_{{prev}})) = "
                 rf"\tanh({tex_term(getattr(row, 'in'))} + {tex_term(row.hn)}) = {tex_num(row.n)}"),
                rf"h_{{{u}}} &= z \cdot h_{{prev}} + (1 - z) \cdot n = {tex_num(row.z)} \cdot"
                rf" {tex_term(row.h_prev)} + {tex_num(1 - row.z)} \cdot {tex_term(row.n)}"
                rf" = {tex_term(row.keep)} + {tex_term(row.new)} = {tex_num(row.h)}",
            ]
        blocks.append(" \\\\\n".join(rows))
    body = " \\\\[6pt]\n".join(blocks)  # a little space between units
    return "$$\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n$$"


def _b_r(u: int, b, reset_after: bool = True) -> str:
    """The course's one bias of Γr for unit u: b_r = b_ir + b_hr, or b_ir alone for a model
    with one bias per gate (one that resets before the product stores no b_hr)."""
    if not reset_after or b.b_hr != b.b_hr:  # NaN: no hidden bias
        return rf"b_{{r,{u}}} &= {tex_num(b.b_r)}\quad\text{{(one bias per gate)}}"
    return (rf"b_{{r,{u}}} &= b_{{\mathrm{{ir}}}} + b_{{\mathrm{{hr}}}} = {tex_term(b.b_ir)} + "
            rf"{tex_term(b.b_hr)} = {tex_num(b.b_r)}")


BIASES = ("One bias per gate in the course, two in PyTorch: b_r = b_ir + b_hr (and "
          "b_u = −(b_iz + b_hz), since Γu = 1 − z); the input and hidden parts below each "
          "include one of the two, so r and Γr are the same number.")


def link_caveats(model_key: str, text: str, url: str, max_text: int) -> list[str]:
    """Why the link would not reopen this example, each with what to do instead (plain text)."""
    out = []
    if model_key.startswith("upload"):
        out.append("The model was uploaded, and a link cannot carry a file: the link opens a "
                   "shipped model instead. To share it, host the file (streamlit run "
                   "dashboard/app.py -- --model FILE.pt, and the link names it), or attach the "
                   "offline copy (the HTML download).")
    if len(text) > max_text:
        out.append(f"The text has {len(text):,} characters, more than the {max_text:,} a link "
                   "carries: the link opens the default sentence instead. Shorten the text, or "
                   "attach the offline copy (the HTML download).")
    host = urlparse(url).hostname or ""
    if host in LOCAL_HOSTS or host.startswith("127.") or not host:
        out.append(f"The link points at {f'this computer ({host})' if host else 'no server'}"
                   ", which readers cannot reach. "
                   "Where the app runs, set GRU_STEPPER_PUBLIC_URL to its public address (or "
                   "public_url in .streamlit/secrets.toml) and copy the post again.")
    return out


def notes(model_key: str, text: str, url: str) -> None:
    """The link's caveats as warnings on the page, beside a post (stepper and worked example):
    they are for the poster, so they never go into the text that is pasted."""
    for c in link_caveats(model_key, text, url, MAX_URL_TEXT):
        st.warning(md_escape(c))


def show(post: str, model_key: str, text: str, url: str) -> None:
    """A post on the page, as the stepper and the worked example show it: the link's caveats
    beside it (never in it), the post as a code block, its copy button and COPY_HINT."""
    notes(model_key, text, url)
    # plain, not highlighted as Markdown: colouring a post this long holds the browser's main
    # thread, after the click that opens the view, longer than the rest of the view takes
    st.code(post, language=None, wrap_lines=True)  # each line's result in view
    copy_button(post)
    st.caption(COPY_HINT)


def worked_post(ex: WorkedExample, model: str, text: str, url: str, notation: str = "pytorch",
                start: str = "") -> str:
    """The whole worked example as one Markdown post; `start` as in export.forum_post. Notes
    for the poster (link_caveats) are shown beside it on the page, never in it."""
    course = notation == "course"
    head = [
        f"**Worked example**: {ex.scope} of the GRU (model {code_span(model)}, layer "
        f"{ex.layer}{', reverse direction' if ex.direction else ''}), reading:",
        "",
        fenced(text if len(text) <= 600 else text[:600] + "…"),
        "",
        *([start, ""] if start else []),
    ]
    if course and CONVENTIONS[ex.convention].reset_after:
        head += [md_escape("Course notation. Γu = 1 − z is the share of the candidate taken; "
                           "c̃ is the candidate as PyTorch computes it (the reset gate applied "
                           "after W_hn·c⟨t−1⟩ + b_hn), the one that makes c⟨t⟩."), ""]
    elif course:
        head += [md_escape("Course notation. Γu = 1 − z is the share of the candidate taken; "
                           "c̃ is the lecture's candidate, which this model computes (the reset "
                           "gate applied to c⟨t−1⟩ before the product, one bias per gate)."), ""]
    if ex.convention != "pytorch":
        head += [md_escape(f"Whose numbers: {CONVENTIONS[ex.convention].framework}."), ""]
    if ex.biases is not None and CONVENTIONS[ex.convention].reset_after:
        head += [md_escape(BIASES), ""]
    body = []
    for i, t in enumerate(ex.steps):
        tok = ex.tokens[i]
        body += [f"**t = {t}**" + (f", reading {code_span(show_token(tok))}" if tok else ""),
                 "", step_latex(ex, i, notation), "",
                 *(f"- {md_escape(s)}" for s in ex.sentences(i, notation)), ""]
    return "\n".join([*head, *body, f"[Open this worked example in the GRU stepper](<{url}>)"])


# under every post on the page: the copy button's own confirmation, and what to do without it
COPY_HINT = ("Copy: the button at the code block's top right; its label turns to “Copied” once "
             "the post is on the clipboard. If it does not (a page served over plain http may "
             "not use the clipboard), select the text and press Ctrl+C.")
