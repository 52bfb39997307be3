"""The worked example as a forum post: Markdown with one LaTeX block per step, within what
Discourse's MathJax renders (aligned, \\sigma, \\tanh, \\cdot, \\langle; no \\underbrace, no '<t>'),
h_prev's value given so that readers can check each product, and the link that reopens it.

Everything that is not ours (the text, tokens, the model's name) is in a code span or a fenced
block longer than any backtick run in it; our own sentences are escaped, so a '$' or '*' in them
is a character, never math or emphasis.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import urlparse

import streamlit as st

from gru_core import CONVENTIONS, WorkedExample

from .export import fenced
from .selection import MAX_URL_TEXT
from .text import show_token

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|$~])")  # not ( ): \( opens math in some sites


def md_escape(s: str) -> str:
    """Plain text -> Markdown that shows exactly these characters."""
    return _MD_SPECIAL.sub(r"\\\1", s)


def _longest_run(s: str) -> int:
    return max((len(m) for m in re.findall(r"`+", s)), default=0)


def code_span(s: str) -> str:
    """Inline code that holds any string (CommonMark: a longer backtick run, padded)."""
    ticks = "`" * (_longest_run(s) + 1)
    pad = " " if s.startswith(("`", " ")) or s.endswith(("`", " ")) or not s else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def _n(v: float) -> str:
    """A number inside LaTeX; negatives in parentheses where they follow an operator."""
    s = f"{v:.4f}"
    return f"({s})" if v < 0 else s


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
                rf"{hp} &= {row.h_prev:.4f}",
                *([] if b is None else [_b_r(u, b)]),
                rf"{r} &= \sigma(ir + hr) = \sigma({_n(row.ir)} + {_n(row.hr)}) = {row.r:.4f}",
                rf"{z} &= 1 - \sigma(iz + hz) = 1 - \sigma({_n(row.iz)} + {_n(row.hz)})"
                rf" = {1 - row.z:.4f}",
                (rf"{n} &= \tanh(in + \Gamma_r \cdot hn) = \tanh({_n(getattr(row, 'in'))}"
                 rf" + {row.r:.4f} \cdot {_n(row.hn)}) = {row.n:.4f}" if after else
                 rf"{n} &= \tanh(in + W_c(\Gamma_r \odot c^{{\langle {t - 1}\rangle}})) = "
                 rf"\tanh({_n(getattr(row, 'in'))} + {_n(row.hn)}) = {row.n:.4f}"),
                rf"{h} &= (1 - \Gamma_u) \cdot c^{{\langle {t - 1}\rangle}} + \Gamma_u \cdot"
                rf" \tilde c = {row.z:.4f} \cdot {_n(row.h_prev)} + {1 - row.z:.4f} \cdot"
                rf" {_n(row.n)} = {_n(row.keep)} + {_n(row.new)} = {row.h:.4f}",
            ]
        else:
            rows = [
                rf"h_{{prev,{u}}} &= {row.h_prev:.4f}",
                rf"r_{{{u}}} &= \sigma(ir + hr) = \sigma({_n(row.ir)} + {_n(row.hr)})"
                rf" = {row.r:.4f}",
                rf"z_{{{u}}} &= \sigma(iz + hz) = \sigma({_n(row.iz)} + {_n(row.hz)})"
                rf" = {row.z:.4f}",
                (rf"n_{{{u}}} &= \tanh(in + r \cdot hn) = \tanh({_n(getattr(row, 'in'))} + "
                 rf"{row.r:.4f} \cdot {_n(row.hn)}) = {row.n:.4f}" if after else
                 rf"n_{{{u}}} &= \tanh(in + W_{{hn}}(r \odot h_{{prev}})) = "
                 rf"\tanh({_n(getattr(row, 'in'))} + {_n(row.hn)}) = {row.n:.4f}"),
                rf"h_{{{u}}} &= z \cdot h_{{prev}} + (1 - z) \cdot n = {row.z:.4f} \cdot"
                rf" {_n(row.h_prev)} + {1 - row.z:.4f} \cdot {_n(row.n)}"
                rf" = {_n(row.keep)} + {_n(row.new)} = {row.h:.4f}",
            ]
        blocks.append(" \\\\\n".join(rows))
    body = " \\\\[6pt]\n".join(blocks)  # a little space between units
    return "$$\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n$$"


def _b_r(u: int, b) -> str:
    """The course's one bias of Γr for unit u: b_r = b_ir + b_hr, or b_ir alone for a model
    with one bias per gate."""
    if b.b_hr != b.b_hr:  # NaN: no hidden bias
        return rf"b_{{r,{u}}} &= {b.b_r:.4f}\quad\text{{(one bias per gate)}}"
    return (rf"b_{{r,{u}}} &= b_{{\mathrm{{ir}}}} + b_{{\mathrm{{hr}}}} = {_n(b.b_ir)} + "
            rf"{_n(b.b_hr)} = {b.b_r:.4f}")


BIASES = ("One bias per gate in the course, two in PyTorch: b_r = b_ir + b_hr (and likewise "
          "b_u = b_iz + b_hz); the parts ir and hr below each include one of the two, so r "
          "and Γr are the same number.")


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


def worked_post(ex: WorkedExample, model: str, text: str, url: str, notation: str = "pytorch",
                start: str = "") -> str:
    """The whole worked example as one Markdown post; `start` as in export.forum_post. Notes
    for the poster (link_caveats) are shown beside it on the page, never in it."""
    course = notation == "course"
    head = [
        f"**Worked example**: steps {', '.join(map(str, ex.steps))} × units "
        f"{', '.join(map(str, ex.units))} of the GRU (model {code_span(model)}, layer "
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
