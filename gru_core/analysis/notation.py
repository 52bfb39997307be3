"""PyTorch's GRU and the course's GRU, term by term.

    course                                   PyTorch (torch.nn.GRU)
    Γr = σ(W_r[c⟨t−1⟩, x⟨t⟩] + b_r)          r = σ(W_ir x + b_ir + W_hr h_prev + b_hr)
    Γu = σ(W_u[c⟨t−1⟩, x⟨t⟩] + b_u)          z = σ(W_iz x + b_iz + W_hz h_prev + b_hz)
    c̃ = tanh(W_c[Γr ⊙ c⟨t−1⟩, x⟨t⟩] + b_c)   n = tanh(W_in x + b_in + r ⊙ (W_hn h_prev + b_hn))
    c⟨t⟩ = Γu ⊙ c̃ + (1 − Γu) ⊙ c⟨t−1⟩        h = (1 − z) ⊙ n + z ⊙ h_prev

Three real differences:
1. One bias per gate in the course: b_r = b_ir + b_hr, b_u = −(b_iz + b_hz); r and Γr agree.
2. PyTorch's z is the share of the *old* state kept; the course's Γu is the share of the candidate
   taken: Γu = 1 − z.
3. The course resets c<t−1> before the matrix product, PyTorch resets W_hn h_prev + b_hn after it.
   With the same weights the two candidates differ; course_candidate() gives the lecture's
   number, pytorch_candidate() PyTorch's, other_candidate() the one a model does not compute.
   The page shows that one only as a comparison: in the course's notation c̃ is this model's
   own candidate n, and c⟨t⟩ = a⟨t⟩ is this model's h.

A Keras GRU with reset_after=False (convention keras-reset-before) computes the lecture's formula
itself: one bias per gate (b_ir, b_iz, b_in; hr, hz, hn carry none) and hn = W_hn (r ⊙ h_prev),
so n = tanh(in + hn). For it the course's card is its own step, and PyTorch's r ⊙ (W_hn h_prev
+ b_hn) is the comparison.
"""

from __future__ import annotations

import torch

from ..core import CONVENTIONS, Trace

# One table of symbols: a symbol always names *this model's* quantity. In the course's notation
# for a PyTorch model Γr ≡ r, Γu ≡ 1 − z, c̃ ≡ n (the model's own candidate, reset after the
# product), c⟨t⟩ ≡ a⟨t⟩ ≡ h. "z" names the update gate as the charts draw it (z itself: 1−Γu in
# course notation); "u" names the gate as the notation defines it (z, or Γu). "prod_z" is the
# product of "z" over a span, "a=h" the state named as the activation it is. ⟨t⟩ is U+27E8/U+27E9:
# "<t>" is stripped as an HTML tag by Markdown and forum sanitizers.
# The candidate's two parts: "in" (the input's), "hn" (the old state's: W_hn·h_prev + b_hn where
# the reset acts after the product), "hn_r" (W_hn·(r ⊙ h_prev) where it acts before), and the
# reset's product "r_hn" or "r_h_prev". The course writes one W_c[·, x⟨t⟩]: its parts by name.
SYMBOLS = {
    "pytorch": {"r": "r", "z": "z", "u": "z", "n": "n", "h": "h", "h_prev": "h_prev",
                "a": "h", "keep": "z·h_prev", "new": "(1−z)·n", "h_t": "h_t", "h_s": "h_s",
                "x": "x_t", "in": "W_in·x_t + b_in", "hn": "W_hn·h_prev + b_hn",
                "hn_r": "W_hn·(r ⊙ h_prev)", "r_hn": "r ⊙ hn", "r_h_prev": "r ⊙ h_prev",
                "prod_z": "∏z", "jacobian": "‖∂h_t/∂h_s‖", "a=h": "h", "state": "h",
                "b_hn": "b_hn"},
    "course": {"r": "Γr", "z": "1−Γu", "u": "Γu", "n": "c̃", "h": "c⟨t⟩", "h_prev": "c⟨t−1⟩",
               "a": "a⟨t⟩", "keep": "(1−Γu)·c⟨t−1⟩", "new": "Γu·c̃", "h_t": "c⟨t⟩",
               "h_s": "c⟨s⟩", "x": "x⟨t⟩", "in": "input part", "hn": "hidden part",
               "hn_r": "hidden part", "r_hn": "Γr ⊙ hidden part", "r_h_prev": "Γr ⊙ c⟨t−1⟩",
               "prod_z": "∏(1−Γu)", "jacobian": "‖∂c⟨t⟩/∂c⟨s⟩‖", "a=h": "a⟨t⟩ = c⟨t⟩",
               "state": "c", "b_hn": "the hidden part's bias"},
}

# What each part is called, where a learner looks for it (the card, the legends).
NAMES = {
    "pytorch": {"r": "reset gate", "z": "update gate (share of the old state kept)",
                "u": "update gate (share of the old state kept)", "n": "candidate",
                "h": "new state", "h_prev": "old state"},
    "course": {"r": "reset gate", "z": "1 − update gate (share of the old state kept)",
               "u": "update gate (share of the candidate taken)", "n": "candidate",
               "h": "new state (the activation: a⟨t⟩ = c⟨t⟩)", "h_prev": "old state"},
}

# The same symbols in LaTeX: multi-letter names upright (\mathrm{ir}, h_{\mathrm{prev}}).
LATEX = {
    "pytorch": {"r": "r", "z": "z", "u": "z", "n": "n", "h": "h",
                "h_prev": r"h_{\mathrm{prev}}", "a": "h"},
    "course": {"r": r"\Gamma_r", "z": r"(1 - \Gamma_u)", "u": r"\Gamma_u", "n": r"\tilde c",
               "h": r"c^{\langle t\rangle}", "h_prev": r"c^{\langle t-1\rangle}",
               "a": r"a^{\langle t\rangle}"},
}


def shown_update(z: float, notation: str) -> float:
    """The update gate as the notation defines it: z in PyTorch's, Γu = 1 − z in the course's."""
    return 1.0 - z if notation == "course" else z


def count_of(k: int, noun: str) -> str:
    """'1 unit', '3 units'."""
    return f"{k} {noun}" + ("" if k == 1 else "s")


def fmt(v: float, digits: int = 4) -> str:
    """A number printed one way everywhere: one minus sign (U+2212), never a negative zero."""
    s = f"{float(v):.{digits}f}"
    if float(s) == 0:
        s = s.lstrip("-")
    return s.replace("-", "−")


def fmt_num(v: float, digits: int = 4) -> str:
    """The page's one rule for a number beside others (the card, the cell, the exports):
    fmt() to `digits` decimals; a nonzero value that would print as 0.0000 in e-notation
    (6.06e−08), never as a zero; a value short of ±1 that would print as 1.0000 with the
    digits that tell it from 1 (0.9999996), up to 8."""
    v = float(v)
    if v != 0 and float(f"{v:.{digits}f}") == 0:
        return fmt_e(v, 2)
    while digits < 8 and abs(float(f"{v:.{digits}f}")) == 1 and abs(v) != 1:
        digits += 1
    return fmt(v, digits)


def fmt_near(v: float, digits: int = 3) -> str:
    """fmt() with as many more digits as it takes (up to 8) not to print a number that is not
    0 or ±1 as one: z = 0.99966 is "0.9997", never "1.000" beside a table saying 0.9997, and
    z = 0.00051 is "0.0005" as the card has it, not "0.001". A
    nonzero value that fmt_num() writes in e-notation (below 0.00005) is written as it does:
    6.06e−08, not 0.0000001."""
    v = float(v)
    if v != 0 and float(f"{v:.4f}") == 0:
        return fmt_num(v)
    while digits < 8 and abs(float(f"{v:.{digits}f}")) in (0.0, 1.0) and abs(v) not in (0.0, 1.0):
        digits = max(digits + 1, 4)  # first to the card's 4 decimals: 0.0005 there and here
    return fmt(v, digits)


def pct(v: float, digits: int = 1) -> str:
    """A share in percent, with more digits where rounding would say 0% or 100% of a share that
    is neither: 99.96%, not 100.0%."""
    v = float(v)
    while digits < 6 and float(f"{v * 100:.{digits}f}") in (0.0, 100.0) and v not in (0.0, 1.0):
        digits += 1
    return f"{v:.{digits}%}"


def tex_num(v: float, digits: int = 4) -> str:
    r"""fmt_num() inside LaTeX, where "-" is set as the minus sign: 6.06e−08 as
    6.06\mathrm{e}{-08}, read as the cell beside the card writes it."""
    s = fmt_num(v, digits).replace("−", "-")
    if "e" in s:
        mantissa, exponent = s.split("e")
        return rf"{mantissa}\mathrm{{e}}{{{exponent}}}"
    return s


def tex_term(v: float, digits: int = 4) -> str:
    """tex_num() as a term of a sum or a factor: a negative in parentheses."""
    s = tex_num(v, digits)
    return f"({s})" if s.startswith("-") else s


def fmt_e(v: float, digits: int = 1) -> str:
    """Scientific notation with the same minus sign: 3.2e−01."""
    return f"{float(v):.{digits}e}".replace("-", "−")


def course_candidate(trace: Trace, layer: int = 0, direction: int = 0,
                     steps: slice = slice(None)) -> torch.Tensor:
    """(T, H): the lecture's c̃ = tanh(W_in x + b_in + W_hn (r ⊙ h_prev) + b_hn), reset *before*
    the product: a comparison, not this model's candidate."""
    w = trace.weights(layer, direction)
    r, h_prev = (trace.gate(k, layer, direction, steps) for k in ("r", "h_prev"))
    pre = trace.gate("in", layer, direction, steps) + (r * h_prev) @ w.W_hn.t()
    if w.b_hn is not None:
        pre = pre + w.b_hn
    return torch.tanh(pre)


def pytorch_candidate(trace: Trace, layer: int = 0, direction: int = 0,
                      steps: slice = slice(None)) -> torch.Tensor:
    """(T, H): PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h_prev + b_hn)), reset *after* the
    product, from the trace's gates and weights: a comparison for a model that resets before."""
    w = trace.weights(layer, direction)
    r, h_prev = (trace.gate(k, layer, direction, steps) for k in ("r", "h_prev"))
    hn = h_prev @ w.W_hn.t()
    if w.b_hn is not None:
        hn = hn + w.b_hn
    return torch.tanh(trace.gate("in", layer, direction, steps) + r * hn)


def other_candidate(trace: Trace, layer: int = 0, direction: int = 0,
                    steps: slice = slice(None)) -> torch.Tensor:
    """(T, H): the candidate of the formula this model does *not* compute, with its weights:
    the lecture's for a model that resets after the product, PyTorch's for one that resets
    before it."""
    if CONVENTIONS[trace.convention].reset_after:
        return course_candidate(trace, layer, direction, steps)
    return pytorch_candidate(trace, layer, direction, steps)


def course_bias(trace: Trace, gate: str, layer: int = 0, direction: int = 0
                ) -> torch.Tensor | None:
    """The course's single bias: b_r = b_ir + b_hr, b_c = b_in + b_hn, and b_u = −(b_iz + b_hz):
    Γu = 1 − z = 1 − σ(a) = σ(−a), so every term of z's sum enters Γu's with its sign flipped."""
    w = trace.weights(layer, direction)
    pair = {"r": (w.b_ir, w.b_hr), "u": (w.b_iz, w.b_hz), "c": (w.b_in, w.b_hn)}[gate]
    if pair[0] is None:
        return None
    return -(pair[0] + pair[1]) if gate == "u" else pair[0] + pair[1]
