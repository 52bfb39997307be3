"""What does the reset gate contribute?"""

from __future__ import annotations

import streamlit as st

from gru_core import TextTrace, reset_counterfactual, top_k

from .. import charts
from ..selection import Selection
from ..text import plain, show_token
from ..view import View
from .texts import HAMLET

TOP = 20  # units shown: the ones the reset gate changes most

def render(sel: Selection, tt: TextTrace) -> None:
    t, sym = sel.t, sel.sym
    if tt.config.bidirectional:
        st.info("The counterfactual is defined for unidirectional models.")
        return
    cf = reset_counterfactual(tt, t, sel.layer)
    change = cf.change
    st.markdown(f"At step t = {t} (reading {plain(show_token(tt.tokens[t]))}), removing the reset "
                f"gate (r = 1) would move the candidate by up to **{change.max():.3f}** "
                f"(mean {change.mean():.3f}). The reset gate decides how much of the old state "
                "enters the candidate.")
    top = cf.most_changed(TOP)
    series = {f"{sym['n']} with the actual {sym['r']}": cf.n[top].numpy(),
              f"{sym['n']} with {sym['r']} = 1 (no reset)": cf.n_no_reset[top].numpy(),
              "course's c̃ (reset before the product)": cf.n_course[top].numpy()}
    st.plotly_chart(charts.candidates([f"unit {u}" for u in top], series,
                                      f"The {len(top)} units whose candidate the reset gate "
                                      f"changes most at t = {t}, most first"),
                    config=charts.CONFIG, key="reset_n")
    st.caption(f"The gap between the two {sym['n']} of a unit is what its reset gate "
               f"({sym['r']} = {', '.join(f'{cf.r[u]:.2f}' for u in top[:3])} … for these units) "
               "took out of the old state at this step.")
    if cf.probs is None:
        return
    a, b = st.columns(2)
    a.plotly_chart(charts.prediction_chart(top_k(cf.probs, tt.vocab), "Next token (actual)"),
                   config=charts.CONFIG, key="reset_p")
    b.plotly_chart(charts.prediction_chart(top_k(cf.probs_no_reset, tt.vocab),
                                           "Next token with r = 1 at this step"),
                   config=charts.CONFIG, key="reset_p1")


VIEW = View("reset", "The reset gate", "What does the reset gate contribute?", render,
            link=dict(ckpt="shakespeare", text=HAMLET, t=HAMLET.index("question") + 3, unit=0))
