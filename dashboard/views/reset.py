"""What does the reset gate contribute?"""

from __future__ import annotations

import streamlit as st

from gru_core import CONVENTIONS, TextTrace, fmt, reset_claim, reset_counterfactual, top_k

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
    st.markdown(reset_claim(cf, t, show_token(tt.tokens[t]), sym, quote=plain).text)
    top = cf.most_changed(TOP)
    before = not CONVENTIONS[tt.convention].reset_after  # the model computes the lecture's
    other = ("PyTorch's n (reset after the product)" if before
             else "the lecture's c̃ (reset before the product)")
    series = {f"{sym['n']} with the actual {sym['r']} (this model)": cf.n[top].numpy(),
              f"{sym['n']} with {sym['r']} = 1 (no reset)": cf.n_no_reset[top].numpy(),
              f"for comparison: {other}": cf.n_other[top].numpy()}
    st.plotly_chart(charts.candidates([f"unit {u}" for u in top], series,
                                      f"The {len(top)} units whose candidate the reset gate "
                                      f"changes most at t = {t}, most first",
                                      f"candidate {sym['n']}"),
                    config=charts.CONFIG, key="reset_n")
    st.caption(f"The gap between the first two {sym['n']} of a unit (blue circle, orange "
               f"diamond) is what its reset gate ({sym['r']} = "
               f"{', '.join(fmt(cf.r[u], 2) for u in top[:3])} … for these units) took out of "
               "the old state at this step. Green crosses: what "
               f"{'PyTorch' if before else 'the lecture'}'s formula would give with the same "
               "weights, a comparison, not this model's candidate.")
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
