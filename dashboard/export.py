"""The step card as text: LaTeX for the page and a Markdown forum post ready to paste."""

from __future__ import annotations

import re

from gru_core import StepCard

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
    return f"{v:.4f}".replace("-", "−") if abs(v) >= 5e-5 or v == 0 else f"{v:.2e}"


def _p(v: float) -> str:
    """A number inside a sum: negatives in parentheses."""
    s = f"{v:.4f}"
    return f"({s})" if v < 0 else s


def pytorch_latex(c: StepCard) -> list[str]:
    T, b = c.terms, c.biases
    if c.one_hot_index is not None:
        x_line = (rf"ir = W_{{ir}}[{c.unit},{c.one_hot_index}] + b_{{ir}} = "
                  rf"{_p(c.input_column['W_ir'])} + {_p(b['b_ir'])} = {T['ir']:.4f}")
    else:
        where = (rf"x_t = E[{c.token_id}]" if c.input_kind == "embedding"
                 else r"x_t = \text{layer below}")
        x_line = rf"ir = W_{{ir}}\,x_t + b_{{ir}} = {T['ir']:.4f}\quad({where})"
    return [
        x_line,
        rf"r = \sigma(ir + hr) = \sigma({_p(T['ir'])} + {_p(T['hr'])}) = {T['r']:.4f}",
        rf"z = \sigma(iz + hz) = \sigma({_p(T['iz'])} + {_p(T['hz'])}) = {T['z']:.4f}",
        rf"n = \tanh(in + r \cdot hn) = \tanh({_p(T['in'])} + {_p(T['r'])} \cdot {_p(T['hn'])})"
        rf" = {T['n']:.4f}",
        rf"h = \underbrace{{(1 - z)\, n}}_{{\text{{new}}}} + \underbrace{{z\, h_{{prev}}}}_"
        rf"{{\text{{kept}}}} = {_p(T['new'])} + {_p(T['keep'])} = {T['h']:.4f}",
    ]


def course_latex(c: StepCard) -> list[str]:
    T, C = c.terms, c.course
    return [
        rf"\Gamma_r = \sigma(W_r[c^{{<t-1>}}, x^{{<t>}}] + b_r) = {C['Γr']:.4f}"
        rf"\quad (b_r = b_{{ir}} + b_{{hr}} = {C['b_r']:.4f})",
        rf"\Gamma_u = \sigma(W_u[c^{{<t-1>}}, x^{{<t>}}] + b_u) = 1 - z = {C['Γu']:.4f}",
        rf"\tilde c = \tanh(W_c[\Gamma_r * c^{{<t-1>}}, x^{{<t>}}] + b_c) = {C['c̃']:.4f}"
        rf"\quad\text{{(PyTorch's }} n = {T['n']:.4f})",
        rf"c^{{<t>}} = \Gamma_u\,\tilde c + (1 - \Gamma_u)\, c^{{<t-1>}} = {C['c<t>']:.4f}"
        rf"\quad\text{{(with PyTorch's }} n\text{{: }} {T['h']:.4f})",
    ]


def forum_post(c: StepCard, model: str, text: str, url: str, notation: str,
               summary: list[str] = ()) -> str:
    lines = course_latex(c) if notation == "course" else pytorch_latex(c)
    T = c.terms
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
        f"Kept from the old state z·h_prev = {T['keep']:.4f}, taken from the candidate "
        f"(1−z)·n = {T['new']:.4f}. nn.GRU's own h = {T['h_gru']:.4f} "
        f"(difference {'0, bit for bit' if T['h_diff'] == 0 else format(T['h_diff'], '.1e')}).",
        "",
        *([_dollars(summary[0]), "", *(f"- {_dollars(line)}" for line in summary[1:]), ""]
          if summary else []),
        f"[Open this step in the GRU stepper]({url})",
    ])
