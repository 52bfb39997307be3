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
HEIGHT = 335  # px: beside the card, the two above a 720 px screen's fold


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


# where each wire's label sits (x, y) on a 10.6 × 8 canvas, drawn in a column half the page
# wide: two lines each (the name, then "= value"), clear of each other at 400 px
SPOTS = {"h_prev": (0.9, 6.75), "r": (2.8, 1.85), "hn": (2.6, 4.6), "r_hn": (5.0, 3.45),
         "in": (6.6, 0.55), "n": (5.9, 4.3), "z": (8.95, 4.0), "keep": (5.2, 6.75),
         "new": (7.35, 5.3), "h": (9.55, 6.85)}
BOXES = {"r": (0.5, 2.0, 1.7, 2.8), "⊙": (3.4, 2.05, 4.0, 2.75),
         "n": (4.8, 2.0, 5.8, 2.8), "u": (7.5, 2.0, 8.7, 2.8),
         "mix": (7.6, 5.8, 8.6, 6.6)}
# where each part's name sits: under its box (on the input wire), and under the state out
NAMED = {"r": (1.1, 1.55), "n": (5.3, 1.55), "u": (8.1, 1.55), "h": (9.3, 5.6)}
LINES = [((0, 6.2), (7.6, 6.2)), ((8.6, 6.2), (10.3, 6.2)),  # c⟨t−1⟩ along the top, c⟨t⟩ out
         ((0.3, 6.2), (0.3, 3.4)), ((0.3, 3.4), (1.1, 3.4)), ((1.1, 3.4), (1.1, 2.8)),  # to Γr
         ((1.7, 2.4), (3.4, 2.4)),  # Γr to ⊙
         ((2.6, 6.2), (2.6, 3.1)), ((2.6, 3.1), (3.7, 3.1)), ((3.7, 3.1), (3.7, 2.75)),  # hn
         ((4.0, 2.4), (4.8, 2.4)),  # r·hn into tanh
         ((0, 0), (8.8, 0)), ((1.1, 0), (1.1, 2.0)), ((5.3, 0), (5.3, 2.0)),  # x⟨t⟩
         ((8.1, 0), (8.1, 2.0)),
         ((5.8, 2.4), (6.6, 2.4)), ((6.6, 2.4), (6.6, 6.0)), ((6.6, 6.0), (7.6, 6.0)),  # c̃
         ((8.1, 2.8), (8.1, 5.8))]  # Γu to the mix


def labels(terms: dict[str, float], notation: str, token: str, t: int, unit: int,
           layer: int | None = None) -> dict[str, str]:
    """The text of every label that changes with the step, by annotation name ("title" for
    the title): what the figure draws at t, and what the player writes at each step. `layer`:
    the layer drawn, named where the model has more than one (None)."""
    texts = {key: f"{label}<br>= {f4(value)}"
             for key, (label, value) in wire_values(terms, notation).items()}
    S = SYMBOLS[notation]
    shown = html.escape(repr(show_token(token)), quote=False)  # Plotly reads tags in text
    texts["x"] = (f"{S['x']} = {shown}" if not layer else  # a layer above reads the one below
                  f"{S['x']} = layer {layer - 1}'s {S['h']} (reading {shown})")
    texts["title"] = f"The GRU cell at t = {t}, unit {unit}" + (
        "" if layer is None else f", layer {layer}")
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


def cell_figure(terms: dict[str, float], notation: str, token: str, t: int, unit: int,
                layer: int | None = None) -> go.Figure:
    """The cell for one unit at step t (of `layer`, as labels names it); the wires carry the
    card's numbers."""
    texts, names = labels(terms, notation, token, t, unit, layer), gate_names(notation)
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
                          bgcolor="rgba(255,255,255,0.85)", font=dict(size=11)))
    notes.append(dict(x=0, y=-0.4, showarrow=False, name="x", text=texts["x"], xanchor="left"))
    fig = go.Figure()
    fig.update_layout(
        shapes=shapes, annotations=notes, height=HEIGHT, margin=dict(l=4, r=4, t=32, b=4),
        title=dict(text=texts["title"]),
        xaxis=dict(visible=False, range=[-0.3, 10.6]),
        yaxis=dict(visible=False, range=[-0.7, 7.3], scaleanchor="x"),
        plot_bgcolor="white")
    return fig
