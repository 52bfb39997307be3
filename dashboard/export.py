"""The step card as text: LaTeX for the page and a Markdown forum post ready to paste."""

from __future__ import annotations

from gru_core import LATEX, NAMES, SYMBOLS, StepCard, fmt_e, fmt_num, tex_num, tex_term

from .text import code_span, fenced, no_math, show_token

POST_TEXT = 2000  # characters of the text a forum post quotes


def f4(v: float) -> str:
    """4 decimals, one minus sign, no negative zero; tiny nonzero values in e-notation."""
    return fmt_num(v, 4)


def _named(line: str, name: str) -> str:
    return line + rf"\quad\text{{{name}}}"


def pytorch_latex(c: StepCard) -> list[str]:
    """This model's own step in PyTorch's symbols; its n line is the model's own formula:
    r·hn (reset after the product) or W_hn(r ⊙ h_prev) (reset before it, a Keras GRU with
    reset_after=False)."""
    T, b, L, N = c.terms, c.biases, LATEX["pytorch"], NAMES["pytorch"]
    ir, hr, iz, hz, in_, hn = (rf"\mathrm{{{k}}}" for k in ("ir", "hr", "iz", "hz", "in", "hn"))
    hp = L["h_prev"]
    if c.one_hot_index is not None:
        x_line = (rf"{ir} = W_{{{ir}}}[{c.unit},{c.one_hot_index}] + b_{{{ir}}} = "
                  rf"{tex_term(c.input_column['W_ir'])} + {tex_term(b['b_ir'])} = "
                  rf"{tex_num(T['ir'])}")
    else:
        where = (rf"x_t = E[{c.token_id}]" if c.input_kind == "embedding"
                 else r"x_t = \text{the input frames, through the layers before the GRU}"
                 if c.input_kind == "features" else r"x_t = \text{layer below}")
        x_line = rf"{ir} = W_{{{ir}}}\,x_t + b_{{{ir}}} = {tex_num(T['ir'])}\quad({where})"
    if c.reset_after:
        candidate = [_named(rf"n = \tanh({in_} + r \cdot {hn}) = \tanh({tex_term(T['in'])} + "
                            rf"{tex_term(T['r'])} \cdot {tex_term(T['hn'])}) = "
                            rf"{tex_num(T['n'])}", N["n"])]
    else:
        candidate = [
            _named(rf"r \odot {hp} = {tex_term(T['r'])} \cdot {tex_term(T['h_prev'])} = "
                   rf"{tex_num(T['r_h_prev'])}", f"reset before the product (unit {c.unit})"),
            _named(rf"n = \tanh({in_} + W_{{{hn}}}(r \odot {hp})) = \tanh({tex_term(T['in'])} + "
                   rf"{tex_term(T['hn'])}) = {tex_num(T['n'])}",
                   N["n"] + " (the lecture's formula)"),
        ]
    return [
        x_line,
        _named(rf"r = \sigma({ir} + {hr}) = \sigma({tex_term(T['ir'])} + {tex_term(T['hr'])}) = "
               rf"{tex_num(T['r'])}", N["r"]),
        _named(rf"z = \sigma({iz} + {hz}) = \sigma({tex_term(T['iz'])} + {tex_term(T['hz'])}) = "
               rf"{tex_num(T['z'])}", N["z"]),
        *candidate,
        _named(rf"h = \underbrace{{(1 - z)\, n}}_{{\text{{new}}}} + \underbrace{{z\, "
               rf"{hp}}}_{{\text{{kept}}}} = {tex_term(T['new'])} + {tex_term(T['keep'])} = "
               rf"{tex_num(T['h'])}", N["h"]),
    ]


def course_latex(c: StepCard) -> list[str]:
    """This model's own step in the course's symbols: Γr = r, Γu = 1 − z, c̃ = n, c⟨t⟩ = h.
    For a model that resets after the product the lecture's candidate is not here
    (comparison() states it beside the card); for one that resets before it (Keras,
    reset_after=False) the card is the lecture's formula with this step's numbers."""
    T, C, L, N = c.terms, c.course, LATEX["course"], NAMES["course"]
    gr, gu, ct, h, hp = L["r"], L["u"], L["n"], L["h"], L["h_prev"]
    in_, hn, x = r"(\text{input part})", r"(\text{hidden part})", r"x^{\langle t\rangle}"
    if c.reset_after:
        b_r = rf"b_r = b_{{\mathrm{{ir}}}} + b_{{\mathrm{{hr}}}} = {tex_num(C['b_r'])}"
        candidate = [_named(rf"{ct} = \tanh({in_} + {gr} \cdot {hn}) = \tanh({tex_term(T['in'])} + "
                            rf"{tex_term(T['r'])} \cdot {tex_term(T['hn'])}) = {tex_num(C['c̃'])}",
                            "candidate (this model's)")]
    else:
        b_r = rf"b_r = {tex_num(C['b_r'])}"
        candidate = [
            _named(rf"{gr} \odot {hp} = {tex_term(T['r'])} \cdot {tex_term(T['h_prev'])} = "
                   rf"{tex_num(T['r_h_prev'])}", f"reset before the product (unit {c.unit})"),
            _named(rf"{ct} = \tanh(W_c[{gr} \odot {hp}, {x}] + b_c) = \tanh(\underbrace{{"
                   rf"{tex_term(T['hn'])}}}_{{\text{{hidden part}}}} + \underbrace{{"
                   rf"{tex_term(T['in'])}}}_"
                   rf"{{\text{{input part}}}}) = {tex_num(C['c̃'])}",
                   "candidate (the lecture's formula)"),
            rf"b_c = {tex_num(C['b_c'])}\quad\text{{(in the input part)}}",
        ]
    return [
        _named(rf"{gr} = \sigma(W_r[{hp}, {x}] + b_r) = {tex_num(C['Γr'])}\quad ({b_r})", N["r"]),
        _named(rf"{gu} = \sigma(W_u[{hp}, {x}] + b_u) = {tex_num(C['Γu'])}", N["u"]),
        *candidate,
        _named(rf"{h} = {L['a']} = \underbrace{{{gu}\,{ct}}}_{{\text{{new}}}} + "
               rf"\underbrace{{(1 - {gu})\,{hp}}}_{{\text{{kept}}}} = {tex_term(T['new'])} + "
               rf"{tex_term(T['keep'])} = {tex_num(C['c⟨t⟩'])}", "new state"),
    ]


def term_formula(c: StepCard, key: str, vector: str) -> str:
    """How one input or hidden part is summed, as the "where from" tables title it."""
    if c.reset_after or key in ("ir", "iz", "in"):
        return f"W_{key}·{vector} + b_{key}"
    return "W_hn·(r ⊙ h_prev)" if key == "hn" else f"W_{key}·h_prev"


def own_name(c: StepCard) -> str:
    """Whose h the card checks its recomputation against."""
    return "nn.GRU" if c.convention == "pytorch" else "Keras"


def compared_in(c: StepCard) -> str:
    """The notation whose card is not the model's formula, where comparison() is shown: the
    course's for a model that resets after the product, PyTorch's for one that resets before."""
    return "course" if c.reset_after else "pytorch"


def comparison(c: StepCard) -> str:
    """The other formula's candidate, as a labelled comparison, never as this model's value."""
    if not c.reset_after:
        return (f"For comparison: PyTorch's formula, which resets after the product "
                f"(n = tanh(in + r ⊙ (W_hn·h_prev + b_hn))), would give n_PyTorch = "
                f"{f4(c.n_other)} "
                f"with these weights; this model computes the lecture's "
                f"n = tanh(in + W_hn·(r ⊙ h_prev)) = {f4(c.terms['n'])}, and its new state "
                f"h = {f4(c.terms['h'])}.")
    return (f"For comparison: the lecture's formula, which resets before the product "
            f"(c̃_lecture = tanh(W_c[Γr ⊙ c⟨t−1⟩, x⟨t⟩] + b_c)), would give c̃_lecture = "
            f"{f4(c.course['c̃ (lecture)'])} with these weights; this model computes c̃ = "
            f"{f4(c.course['c̃'])} (PyTorch's n), and its new state c⟨t⟩ = a⟨t⟩ = "
            f"{f4(c.course['c⟨t⟩'])}.")


def differences(c: StepCard) -> str:
    """PyTorch's GRU vs the course's, at this step, for the course notation (Markdown)."""
    C = c.course
    gate = (f"Γu = 1 − z = {f4(C['Γu'])}: the course's Γu is the share of the candidate taken, "
            "PyTorch's (and Keras's) z the share of the old state kept.")
    if not c.reset_after:
        return ("**PyTorch vs the course, at this step.** This model "
                f"({c.framework}) computes the lecture's GRU; every symbol above is its own "
                f"number. (1) One bias per gate, as in the course: b_r = {f4(C['b_r'])}, "
                f"b_u = {f4(C['b_u'])}, b_c = {f4(C['b_c'])}. (2) {gate} (3) Γr multiplies "
                f"c⟨t−1⟩ before the product, as in the lecture: Γr ⊙ c⟨t−1⟩ = "
                f"{f4(c.terms['r_h_prev'])} for this unit. {comparison_pytorch_short(c)}")
    return ("**PyTorch vs the course, at this step.** Every symbol above is this model's own "
            f"number. (1) One bias per gate: b_r = b_ir + b_hr = {f4(C['b_r'])}; r and Γr are "
            f"the same number ({f4(C['Γr'])}). (2) {gate} (3) This model applies Γr after "
            "W_hn·c⟨t−1⟩ + b_hn; the lecture applies it to c⟨t−1⟩ before the product. "
            f"{comparison(c)}")


def comparison_pytorch_short(c: StepCard) -> str:
    """PyTorch's candidate with these weights, for a model that resets before the product."""
    ours, theirs = f4(c.course['c̃']), f4(c.n_other)
    if ours == theirs:  # at t = 0 from zeros, or where Γr's place makes no visible difference
        return (f"PyTorch's formula, Γr ⊙ (W_hn·c⟨t−1⟩ + b_hn), gives the same c̃ = {ours} "
                "here: where the reset acts makes no difference at this step.")
    return (f"PyTorch's formula, Γr ⊙ (W_hn·c⟨t−1⟩ + b_hn), would give c̃_PyTorch = {theirs} "
            f"with these weights, not this model's c̃ = {ours}.")


def forum_post(c: StepCard, model: str, text: str, url: str, notation: str,
               summary: list[str] = (), start: str = "") -> str:
    """One step of one unit as a Markdown post; `start` says where h_prev at t = 0 came from
    when the run did not start from zeros (Markdown, foreign values already quoted)."""
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
        *([start, ""] if start else []),
        "$$",
        r"\begin{aligned}",
        " \\\\\n".join(line.replace(" = ", " &= ", 1) for line in lines),
        r"\end{aligned}",
        "$$",
        "",
        f"Kept from the old state {S['keep']} = {f4(T['keep'])}, taken from the candidate "
        f"{S['new']} = {f4(T['new'])}. {own_name(c)}'s own output = {f4(T['h_gru'])} "
        f"(difference {'0, bit for bit' if T['h_diff'] == 0 else fmt_e(T['h_diff'])}).",
        "",
        f"Whose numbers: {c.framework}.",
        "",
        *([comparison(c), ""] if notation == compared_in(c) else []),
        *([no_math(summary[0]), "", *(f"- {no_math(line)}" for line in summary[1:]), ""]
          if summary else []),
        f"[Open this step in the GRU stepper]({url})",
    ])
