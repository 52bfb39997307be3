"""The lecture's picture of the GRU cell, its wires labelled with one unit's numbers at one step.

    c⟨t−1⟩ ──────────────────────────────●──(mix)──▶ c⟨t⟩
      │            │                      ▲     ▲
      ▼            ▼                      │     │
    [Γr σ]──Γr──▶(⊙ on hn)──▶[tanh]──c̃──┘     │
                                  ▲        [Γu σ]
    x⟨t⟩ ─────────────────────────┴────────────┘

For a GRU that resets before the product (the card's terms carry r_h_prev, not r_hn) the ⊙
takes Γr and c⟨t−1⟩ and W_hn multiplies its output, as in the lecture's picture.

Plain data in (the step card's terms), a Plotly figure out; no model math here: every number
on a wire is one of the card's, written as the card writes it.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from gru_core import NAMES, SYMBOLS

from ...export import f4
from ...text import show_token

BOX, WIRE, GATE = "#EEF2F7", "#555555", "#4C78A8"
HEIGHT = 420  # px


def wire_values(terms: dict[str, float], notation: str) -> dict[str, tuple[str, float]]:
    """What each wire carries: (label, value), in the page's notation (gru_core's SYMBOLS).
    Keys are the card's term names; the update gate is shown as the notation defines it (z,
    or Γu = 1 − z)."""
    S = SYMBOLS[notation]
    if "r_h_prev" in terms:  # reset before the product (Keras reset_after=False): the lecture's
        reset = {"hn": (S["hn_r"], terms["hn"]), "r_hn": (S["r_h_prev"], terms["r_h_prev"])}
    else:
        reset = {"hn": (S["hn"], terms["hn"]), "r_hn": (S["r_hn"], terms["r_hn"])}
    h = S["h"] if S["h"] == S["a"] else f"{S['h']} = {S['a']}"
    return {
        "h_prev": (S["h_prev"], terms["h_prev"]),
        "r": (S["r"], terms["r"]),
        **reset,
        "in": (S["in"], terms["in"]),
        "n": (S["n"], terms["n"]),
        "z": (S["u"], 1 - terms["z"] if notation == "course" else terms["z"]),
        "keep": (S["keep"], terms["keep"]),
        "new": (S["new"], terms["new"]),
        "h": (h, terms["h"]),
    }


def gate_names(notation: str) -> dict[str, str]:
    """The parts named on the drawing, in words: by box (and "h" for the state out)."""
    N = NAMES[notation]
    return {k: N[k].split(" (")[0] for k in ("r", "u", "n", "h")}


# where each wire's label sits (x, y) on a 12 × 7 canvas
SPOTS = {"h_prev": (1.2, 6.3), "r": (3.1, 3.1), "hn": (4.6, 4.6), "r_hn": (6.3, 2.85),
         "in": (6.3, 0.5), "n": (7.6, 3.5), "z": (9.7, 3.2), "keep": (6.6, 6.35),
         "new": (8.3, 4.6), "h": (11.4, 6.6)}
BOXES = {"r": (2.0, 1.6, 3.4, 2.6), "⊙": (5.3, 1.6, 6.1, 2.4),
         "n": (6.6, 1.6, 7.6, 2.6), "u": (9.0, 1.6, 10.4, 2.6),
         "mix": (8.9, 5.6, 10.1, 6.4)}
# where each part's name sits: under its box (on the input wire), and under the state out
NAMED = {"r": (2.7, 1.2), "n": (7.1, 1.2), "u": (9.7, 1.2), "h": (11.2, 5.55)}
LINES = [((0, 6), (8.9, 6)), ((10.1, 6), (12, 6)),  # c⟨t−1⟩ along the top, c⟨t⟩ out
         ((1.4, 6), (1.4, 3.6)), ((1.4, 3.6), (2.7, 3.6)), ((2.7, 3.6), (2.7, 2.6)),  # to Γr
         ((3.4, 2.1), (5.3, 2.1)),  # Γr to ⊙
         ((4.3, 6), (4.3, 3.0)), ((4.3, 3.0), (5.7, 3.0)), ((5.7, 3.0), (5.7, 2.4)),  # hn to ⊙
         ((6.1, 2.0), (6.6, 2.0)),  # r·hn into tanh
         ((0.6, 0), (11, 0)), ((2.7, 0), (2.7, 1.6)), ((7.1, 0), (7.1, 1.6)),  # x⟨t⟩
         ((9.7, 0), (9.7, 1.6)),
         ((7.6, 2.1), (8.3, 2.1)), ((8.3, 2.1), (8.3, 5.8)), ((8.3, 5.8), (8.9, 5.8)),  # c̃
         ((9.7, 2.6), (9.7, 5.6))]  # Γu to the mix


def labels(terms: dict[str, float], notation: str, token: str, t: int, unit: int
           ) -> dict[str, str]:
    """The text of every label that changes with the step, by annotation name ("title" for
    the title): what the figure draws at t, and what the player writes at each step."""
    texts = {key: f"{label} = {f4(value)}"
             for key, (label, value) in wire_values(terms, notation).items()}
    shown = html.escape(repr(show_token(token)), quote=False)  # Plotly reads tags in text
    texts["x"] = f"{SYMBOLS[notation]['x']} = {shown}"
    texts["title"] = f"The GRU cell at t = {t}, unit {unit}"
    return texts


def caption(convention, notation: str = "pytorch") -> str:
    """Where the reset gate acts in this model's own formula, in words under the figure."""
    S = SYMBOLS[notation]
    if notation == "course":
        where = ("on the candidate's hidden part, after W_hn multiplies c⟨t−1⟩ (as PyTorch "
                 "does; the lecture resets c⟨t−1⟩ before the product)" if convention.reset_after
                 else "on c⟨t−1⟩ before the product, as in the lecture's formula")
        update = "the update gate Γu (= 1 − z, where z is PyTorch's update gate) weighs"
    else:
        where = (f"on the hidden part hn = {S['hn']}, after the product"
                 if convention.reset_after else "on h_prev before W_hn multiplies it (the "
                 "lecture's formula)")
        update = "the update gate z weighs"
    return (f"The cell ({convention.framework}): the reset gate {S['r']} acts {where}, inside "
            f"the candidate's tanh; {update} the old state against the candidate {S['n']} at "
            "the mix. Its numbers are the step card's; ▶ play and the steps move them.")


def cell_figure(terms: dict[str, float], notation: str, token: str, t: int, unit: int
                ) -> go.Figure:
    """The cell for one unit at step t; the wires carry the card's numbers."""
    texts, names = labels(terms, notation, token, t, unit), gate_names(notation)
    shapes = [dict(type="line", x0=a[0], y0=a[1], x1=b[0], y1=b[1],
                   line=dict(color=WIRE, width=2)) for a, b in LINES]
    notes = []
    for label, (x0, y0, x1, y1) in BOXES.items():
        shapes.append(dict(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, fillcolor=BOX,
                           line=dict(color=GATE, width=2)))
        text = {"r": f"{SYMBOLS[notation]['r']} σ", "u": f"{SYMBOLS[notation]['u']} σ",
                "n": "tanh"}.get(label, label)
        notes.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=f"<b>{text}</b>",
                          showarrow=False, name=f"box:{text}"))
    for key, (x, y) in NAMED.items():
        notes.append(dict(x=x, y=y, text=f"<i>{names[key]}</i>", showarrow=False,
                          name=f"name:{key}", font=dict(size=13, color=GATE),
                          bgcolor="rgba(255,255,255,0.9)"))
    for key, (x, y) in SPOTS.items():
        notes.append(dict(x=x, y=y, text=texts[key], showarrow=False, name=key,
                          bgcolor="rgba(255,255,255,0.85)", font=dict(size=12)))
    notes.append(dict(x=0.6, y=-0.45, showarrow=False, name="x", text=texts["x"]))
    fig = go.Figure()
    fig.update_layout(
        shapes=shapes, annotations=notes, height=HEIGHT, margin=dict(l=10, r=10, t=40, b=10),
        title=dict(text=texts["title"]),
        xaxis=dict(visible=False, range=[-0.2, 12.8]),
        yaxis=dict(visible=False, range=[-0.8, 6.9], scaleanchor="x"),
        plot_bgcolor="white")
    return fig
