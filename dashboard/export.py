"""The step card as text: LaTeX for the page and a Markdown forum post ready to paste."""

from __future__ import annotations

import re

from gru_core import LATEX, NAMES, SYMBOLS, StepCard, fmt, fmt_e

from .text import code_span, show_token

POST_TEXT = 2000  # characters of the text a forum post quotes


def fenced(text: str) -> str:
    """The text verbatim in a fenced code block its content cannot close: the fence is longer
    than any backtick run in it, so no line of the text ends the block or is parsed as Markdown,
    math or forum markup (lists, rules, `$$`, `</details>`, HTML)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _dollars(line: str) -> str:
    """A sentence outside the math block: a `$` in it would open math on the forum."""
    return line.replace("$", r"\$")


def f4(v: float) -> str:
    """4 decimals, one minus sign, no negative zero; tiny nonzero values in e-notation."""
    return fmt(v) if abs(v) >= 5e-5 or v == 0 else fmt_e(v, 2)


def _n(v: float) -> str:
    """A number inside LaTeX: 4 decimals, never −0.0000 (LaTeX sets "-" as the minus sign)."""
    return fmt(v).replace("−", "-")


def _p(v: float) -> str:
    """A number inside a sum: negatives in parentheses."""
    s = _n(v)
    return f"({s})" if s.startswith("-") else s


def _named(line: str, name: str) -> str:
    return line + rf"\quad\text{{{name}}}"


def pytorch_latex(c: StepCard) -> list[str]:
    T, b, L, N = c.terms, c.biases, LATEX["pytorch"], NAMES["pytorch"]
    ir, hr, iz, hz, in_, hn = (rf"\mathrm{{{k}}}" for k in ("ir", "hr", "iz", "hz", "in", "hn"))
    if c.one_hot_index is not None:
        x_line = (rf"{ir} = W_{{{ir}}}[{c.unit},{c.one_hot_index}] + b_{{{ir}}} = "
                  rf"{_p(c.input_column['W_ir'])} + {_p(b['b_ir'])} = {_n(T['ir'])}")
    else:
        where = (rf"x_t = E[{c.token_id}]" if c.input_kind == "embedding"
                 else r"x_t = \text{layer below}")
        x_line = rf"{ir} = W_{{{ir}}}\,x_t + b_{{{ir}}} = {_n(T['ir'])}\quad({where})"
    return [
        x_line,
        _named(rf"r = \sigma({ir} + {hr}) = \sigma({_p(T['ir'])} + {_p(T['hr'])}) = "
               rf"{_n(T['r'])}", N["r"]),
        _named(rf"z = \sigma({iz} + {hz}) = \sigma({_p(T['iz'])} + {_p(T['hz'])}) = "
               rf"{_n(T['z'])}", N["z"]),
        _named(rf"n = \tanh({in_} + r \cdot {hn}) = \tanh({_p(T['in'])} + {_p(T['r'])} "
               rf"\cdot {_p(T['hn'])}) = {_n(T['n'])}", N["n"]),
        _named(rf"h = \underbrace{{(1 - z)\, n}}_{{\text{{new}}}} + \underbrace{{z\, "
               rf"{L['h_prev']}}}_{{\text{{kept}}}} = {_p(T['new'])} + {_p(T['keep'])} = "
               rf"{_n(T['h'])}", N["h"]),
    ]


def course_latex(c: StepCard) -> list[str]:
    """This model's own step in the course's symbols: Γr = r, Γu = 1 − z, c̃ = n, c⟨t⟩ = h.
    The lecture's candidate is not here: comparison() states it beside the card."""
    T, C, L, N = c.terms, c.course, LATEX["course"], NAMES["course"]
    gr, gu, ct, h, hp = L["r"], L["u"], L["n"], L["h"], L["h_prev"]
    in_, hn = r"\mathrm{in}", r"\mathrm{hn}"
    return [
        _named(rf"{gr} = \sigma(W_r[{hp}, x^{{\langle t\rangle}}] + b_r) = {_n(C['Γr'])}"
               rf"\quad (b_r = b_{{\mathrm{{ir}}}} + b_{{\mathrm{{hr}}}} = {_n(C['b_r'])})",
               N["r"]),
        _named(rf"{gu} = \sigma(W_u[{hp}, x^{{\langle t\rangle}}] + b_u) = 1 - z = "
               rf"{_n(C['Γu'])}", N["u"]),
        _named(rf"{ct} = \tanh({in_} + {gr} \cdot {hn}) = \tanh({_p(T['in'])} + "
               rf"{_p(T['r'])} \cdot {_p(T['hn'])}) = {_n(C['c̃'])}", "candidate (this model's)"),
        _named(rf"{h} = {L['a']} = \underbrace{{{gu}\,{ct}}}_{{\text{{new}}}} + "
               rf"\underbrace{{(1 - {gu})\,{hp}}}_{{\text{{kept}}}} = {_p(T['new'])} + "
               rf"{_p(T['keep'])} = {_n(C['c⟨t⟩'])}", "new state"),
    ]


def comparison(c: StepCard) -> str:
    """The lecture's candidate, as a labelled comparison, never as the value of c⟨t⟩."""
    return (f"For comparison: the lecture's formula, which resets before the product "
            f"(c̃ = tanh(W_c[Γr ⊙ c⟨t−1⟩, x⟨t⟩] + b_c)), would give c̃ = "
            f"{f4(c.course['c̃ (lecture)'])} with these weights; this model computes c̃ = n = "
            f"{f4(c.course['c̃'])}, and its new state c⟨t⟩ = a⟨t⟩ = h = {f4(c.course['c⟨t⟩'])}.")


def forum_post(c: StepCard, model: str, text: str, url: str, notation: str,
               summary: list[str] = ()) -> str:
    lines = course_latex(c) if notation == "course" else pytorch_latex(c)
    T, S = c.terms, SYMBOLS[notation]
    return "\n".join([
        f"**GRU step t = {c.t}, unit {c.unit}** (model {code_span(model)}, layer {c.layer}"
        f"{', reverse direction' if c.direction else ''}), reading "
        f"{code_span(show_token(c.token))} in"
        + ("" if len(text) <= POST_TEXT else f" (the first {POST_TEXT:,} of {len(text):,} "
           "characters)") + ":",
        "",
        fenced(text[:POST_TEXT]),
        "",
        "$$",
        r"\begin{aligned}",
        " \\\\\n".join(line.replace(" = ", " &= ", 1) for line in lines),
        r"\end{aligned}",
        "$$",
        "",
        f"Kept from the old state {S['keep']} = {f4(T['keep'])}, taken from the candidate "
        f"{S['new']} = {f4(T['new'])}. nn.GRU's own h = {f4(T['h_gru'])} "
        f"(difference {'0, bit for bit' if T['h_diff'] == 0 else fmt_e(T['h_diff'])}).",
        "",
        *([comparison(c), ""] if notation == "course" else []),
        *([_dollars(summary[0]), "", *(f"- {_dollars(line)}" for line in summary[1:]), ""]
          if summary else []),
        f"[Open this step in the GRU stepper]({url})",
    ])
