"""If the update gate keeps the memory cell, isn't the activation frozen too?"""

from __future__ import annotations

import streamlit as st

from gru_core import (
    HOLDS,
    REWRITTEN,
    TextTrace,
    default_span_start,
    holders,
    memory_claims,
    span_counts,
    state,
)

from .. import charts
from ..selection import COURSE_TEXT, Selection, write_url
from ..text import plain, show_token
from ..view import View

NUMBER_UNIT = 76  # `agreement`'s number unit (the number view ranks it first; tests check it)


def render(sel: Selection, tt: TextTrace) -> None:
    t, sym, unit = sel.t, sel.sym, sel.unit
    if t == 0:
        st.info("Pick a step t > 0 to see what was held since an earlier step.")
        return
    _default_span(sel, tt)
    s = 0 if t == 1 else st.slider("Span start s (the earlier step; by default where the "
                                   "selected unit began holding)", 0, t - 1, key="s")
    write_url(sel.params(s=s))  # the span's start as shown: the link reproduces it
    tokens = [show_token(tok) for tok in tt.tokens]
    for claim in memory_claims(tt, s, t, unit, sel.layer, sel.notation, tokens,
                               quote=plain):
        st.markdown(claim.text)
    df = holders(tt, s, t, sel.layer)  # sorted by retention; the bars want unit order
    held, rewritten = span_counts(df)
    st.markdown(f"From step {s} to step {t}: **{held}** {'unit' if held == 1 else 'units'} held "
                f"(kept more than "
                f"{HOLDS:.0%}), **{rewritten}** were rewritten (kept less than {REWRITTEN:.0%}), "
                f"{len(df) - held - rewritten} kept something in between.")
    top = df.unit[:3].tolist()
    st.plotly_chart(charts.retention_bars(df.sort_values("unit").retention.to_numpy(), top,
                                          sym["z"], unit, HOLDS, REWRITTEN),
                    config=charts.CONFIG, key="ret_bars")
    st.caption(f"Retention = product of {sym['z']} over steps s+1..t: the share of "
               f"{sym['h_s']} that reaches {sym['h_t']} without passing through the candidate. "
               f"Above {HOLDS:.0%} (upper dashed line) a unit holds, below {REWRITTEN:.0%} "
               f"(lower line) it was rewritten. Orange: the three best holders; black: unit "
               f"{unit}.")
    lo, hi = max(0, s - 5), min(tt.T, t + 6)
    steps = range(lo, hi)
    h = tt.gate("h", sel.layer, steps=slice(lo, hi))
    ret = dict(zip(df.unit, df.retention, strict=True))
    shown = [unit, *[u for u in top if u != unit][:2],
             *[u for u in df.unit[-2:] if u != unit and u not in top]]
    series = {f"unit {u}{' (selected)' if u == unit else ''}: {state(ret[u])}, "
              f"{ret[u]:.2g}": h[:, u].numpy() for u in shown}
    st.plotly_chart(charts.unit_lines(steps, tt.tokens[lo:hi], series,
                                      f"{sym['a']} = {sym['h']} of the selected unit, the best "
                                      "holders and units that were rewritten", span=(s, t),
                                      y_title=f"{sym['a']} = {sym['h']}"),
                    config=charts.CONFIG, key="ret_lines")
    st.caption("Inside the shaded span a unit that holds stays flat while the rewritten ones "
               "change; the legend names each line's retention over the span with the same "
               "thresholds.")
    st.dataframe(df.head(10).round(4), hide_index=True)


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
            params=("s",))
