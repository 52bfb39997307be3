"""What does the reset gate contribute?"""

from __future__ import annotations

import streamlit as st

from gru_core import TextTrace, reset_counterfactual, top_k

from .. import charts
from ..selection import Selection
from ..text import show_token
from ..view import View
from .texts import HAMLET


def render(sel: Selection, tt: TextTrace) -> None:
    t, sym = sel.t, sel.sym
    if tt.config.bidirectional:
        st.info("The counterfactual is defined for unidirectional models.")
        return
    cf = reset_counterfactual(tt, t, sel.layer)
    change = cf.change
    st.markdown(f"At step t = {t} (reading {show_token(tt.tokens[t])!r}), removing the reset "
                f"gate (r = 1) would move the candidate by up to **{change.max():.3f}** "
                f"(mean {change.mean():.3f}). The reset gate decides how much of the old state "
                "enters the candidate.")
    series = {f"{sym['n']} with the actual {sym['r']}": cf.n.numpy(),
              f"{sym['n']} with {sym['r']} = 1 (no reset)": cf.n_no_reset.numpy(),
              "course's c̃ (reset before the product)": cf.n_course.numpy()}
    st.plotly_chart(charts.candidates(range(tt.config.hidden_size), series,
                                      f"The candidate at t = {t}, every unit"),
                    config=charts.CONFIG, key="reset_n")
    st.caption("Where the dots part, the reset gate changed what the unit could become.")
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
