"""If the update gate keeps the memory cell, isn't the activation frozen too?"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
import streamlit as st

from gru_core import (
    HIGH,
    HOLDS,
    REWRITTEN,
    Claim,
    TextTrace,
    default_span_start,
    fmt,
    fmt_near,
    holders,
    memory_claims,
    share,
    span_picture,
    state,
)

from .. import cache, charts
from ..selection import COURSE_TEXT, Selection, write_url
from ..text import plain, show_token
from ..view import View
from . import first_step

NUMBER_UNIT = 76  # `agreement`'s number unit (the number view ranks it first; tests check it)


def render(sel: Selection, tt: TextTrace) -> None:
    t, sym, unit = sel.t, sel.sym, sel.unit
    if t == 0:
        first_step.answer(sel, tt, "memory")
        return
    _default_span(sel, tt)
    answer = st.empty()  # the first line; the span's slider comes after it
    s = 0 if t == 1 else st.slider("Span start s (the earlier step; by default where the "
                                   "selected unit's latest hold began)", 0, t - 1, key="s")
    write_url(sel.params(s=s))  # the span's start as shown: the link reproduces it
    (lead, *claims), df, picture = numbers(sel, tt, s)
    answer.markdown(lead.text)
    longest = lead.evidence.get("longest")
    if longest:
        here = longest["t"] == t
        st.button(f"Show unit {longest['unit']}" if here else
                  f"Go to step {longest['t']}, unit {longest['unit']}", key="memory_longest",
                  on_click=_show, args=(longest["unit"], longest["t"]))
    lo, hi = max(0, s - 5), min(tt.T, t + 6)
    z = tt.gate("z", sel.layer, steps=slice(lo, hi))[:, unit].numpy()
    st.plotly_chart(charts.gate_line(range(lo, hi), tt.tokens[lo:hi], z, sym["z"], HIGH,
                                     (s + 1, t), f"{sym['z']} of unit {unit}: it held over "
                                     f"s..t if above {HIGH} (dashed) at every shaded step, "
                                     f"{s + 1}..{t}"),
                    config=charts.CONFIG, key="ret_z")
    for claim in claims:
        st.markdown(claim.text)
    orange, low = picture.evidence["orange"], picture.evidence["low"]
    st.plotly_chart(charts.retention_bars(df.sort_values("unit").retention.to_numpy(), orange,
                                          sym["prod_z"], unit, HOLDS, REWRITTEN),
                    config=charts.CONFIG, key="ret_bars")
    st.caption(picture.text)
    h = tt.gate("h", sel.layer, steps=slice(lo, hi))
    row = {int(u): (r, m) for u, r, m in zip(df.unit, df.retention, df.min_z, strict=True)}
    shown = [unit, *orange, *low]  # as the title counts them
    series = {f"unit {u}{' (selected)' if u == unit else ''}: {state(*row[u])}, kept "
              f"{share(row[u][0])}": h[:, u].numpy() for u in shown}
    st.plotly_chart(charts.unit_lines(range(lo, hi), tt.tokens[lo:hi], series,
                                      picture.evidence["title"], span=(s, t),
                                      y_title=sym["a=h"]),
                    config=charts.CONFIG, key="ret_lines")
    st.caption(f"The shaded span is s..t. Each line's legend gives its state over the span "
               f"(held: {sym['z']} above {HIGH} at every step and more than {HOLDS:.0%} kept; "
               f"rewritten: less than {REWRITTEN:.0%} kept) and the share it kept.")
    names = {"retention": f"kept ({sym['prod_z']})", "min_z": f"lowest {sym['z']}",
             "h_s": sym["h_s"], "h_t": sym["h_t"]}
    st.dataframe(table(df.head(10)).rename(columns=names), hide_index=True)


def table(df: pd.DataFrame) -> pd.DataFrame:
    """The holders table as printed: "kept" as the legend writes it (share: 43.6%, 3.4e−83),
    every h to the same 4 decimals, the lowest z never rounded to 1."""
    return df.assign(retention=df.retention.map(share), min_z=df.min_z.map(lambda v:
                     fmt_near(v, 4)), h_s=df.h_s.map(fmt), h_t=df.h_t.map(fmt))


class Numbers(NamedTuple):
    """What the view draws for the span s..t: its sentences (the answer first), the units'
    holders table (sorted by retention) and the picture's sentence and evidence."""

    claims: list[Claim]
    holders: pd.DataFrame
    picture: Claim


def numbers(sel: Selection, tt: TextTrace, s: int | None = None) -> Numbers | None:
    """The view's numbers at t for the span from s (by default where the unit began holding),
    the same whether computed by the view or ahead of its click (cache.analysis); None at
    t = 0, where the view has no span."""
    if sel.t == 0:
        return None
    if s is None:
        s = 0 if sel.t == 1 else default_span_start(tt, sel.t, sel.unit, sel.layer)

    def compute() -> Numbers:
        tokens = [show_token(tok) for tok in tt.tokens]
        claims = memory_claims(tt, s, sel.t, sel.unit, sel.layer, sel.notation, tokens,
                               quote=plain)
        df = holders(tt, s, sel.t, sel.layer)
        return Numbers(claims, df, span_picture(df, sel.unit, sel.sym))

    return cache.analysis(("memory", sel.model_key, tt.text, sel.start, sel.t, sel.unit,
                           sel.layer, s, sel.notation), compute)


def _show(unit: int, t: int) -> None:
    st.session_state["unit"], st.session_state["t"] = unit, t


def _default_span(sel: Selection, tt: TextTrace) -> None:
    """s defaults to where the selected unit began holding; a link's own s is kept on the first
    run, and a new (text, t, unit, layer) moves s to its own default again."""
    key = (hash(tt.text), sel.t, sel.unit, sel.layer)
    first = "s_default_for" not in st.session_state
    if not first and st.session_state["s_default_for"] == key and "s" in st.session_state:
        pass
    elif first and "s" in st.session_state:
        st.session_state["s_default_for"] = key  # from the URL
    else:
        st.session_state["s"] = default_span_start(tt, sel.t, sel.unit, sel.layer)
        st.session_state["s_default_for"] = key
    st.session_state["s"] = min(max(int(st.session_state["s"]), 0), sel.t - 1)


VIEW = View("memory", "Is the state frozen?",
            "If the update gate keeps the memory cell, isn't the activation frozen too?", render,
            link=dict(ckpt="agreement", text=COURSE_TEXT, t=COURSE_TEXT.index("fish"),
                      unit=NUMBER_UNIT),
            params=("s",), numbers=numbers)
