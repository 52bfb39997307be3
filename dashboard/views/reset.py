"""What does the reset gate contribute?"""

from __future__ import annotations

import streamlit as st

from gru_core import CONVENTIONS, TextTrace, fmt, reset_claims, reset_counterfactual, top_k

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
    noun = "word" if tt.vocab.words else "character"
    vocab = [show_token(tok) for tok in tt.vocab.tokens]
    nxt = show_token(tt.tokens[t + 1]) if t + 1 < tt.T else None
    lead, *claims = reset_claims(cf, t, show_token(tt.tokens[t]), sym, plain, vocab, nxt, noun)
    st.markdown(lead.text)
    st.markdown(claims[0].text)
    top = cf.most_changed(TOP)
    before = not CONVENTIONS[tt.convention].reset_after  # the model computes the lecture's
    other = (f"PyTorch's candidate, {sym['n']}_PyTorch (reset after the product)" if before
             else f"the lecture's candidate, {sym['n']}_lecture (reset before the product)")
    series = {f"{sym['n']} with this model's {sym['r']}": cf.n[top].numpy(),
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
               "the candidate's old-state part (its bias included) at this step. Green "
               f"crosses: what {'PyTorch' if before else 'the lecture'}'s formula would give "
               "with the same weights, a comparison, not this model's candidate.")
    if cf.probs is None:
        return
    st.markdown(claims[1].text)
    actual = tt.tokens[t + 1] if t + 1 < tt.T else None
    a, b = st.columns(2)
    a.plotly_chart(charts.prediction_chart(_with(top_k(cf.probs, tt.vocab), cf.probs, tt,
                                                 actual),
                                           f"Next {noun}: this model ({sym['r']} as computed)",
                                           actual),
                   config=charts.CONFIG, key="reset_p")
    b.plotly_chart(charts.prediction_chart(_with(top_k(cf.probs_no_reset, tt.vocab),
                                                 cf.probs_no_reset, tt, actual),
                                           f"Next {noun}: with {sym['r']} = 1 at this step",
                                           actual),
                   config=charts.CONFIG, key="reset_p1")
    st.caption(f"The five likeliest next {noun}s in each case"
               + (f"; orange: {plain(show_token(actual))}, the {noun} that actually comes next "
                  "in the text (added below the five when it is not among them)." if actual
                  else f"; this is the text's last {noun}, so no next one is marked."))


def _with(top: list[tuple[str, float]], probs, tt: TextTrace, actual: str | None
          ) -> list[tuple[str, float]]:
    """The top tokens, with the actual next one appended when it is not among them."""
    if actual is None or actual in [c for c, _ in top] or actual not in tt.vocab.tokens:
        return top
    return [*top, (actual, float(probs[tt.vocab.index(actual)]))]


VIEW = View("reset", "The reset gate", "What does the reset gate contribute?", render,
            link=dict(ckpt="shakespeare", text=HAMLET, t=HAMLET.index("question") + 3, unit=0))
