"""How does the update gate help with vanishing gradients?"""

from __future__ import annotations

import streamlit as st

from gru_core import HOLDS, TextTrace, direct_path, gradient_claims

from .. import cache, charts
from ..selection import COURSE_TEXT, Selection
from ..text import plain
from ..view import View
from . import first_step

MAX_JACOBIAN_SPAN = 500  # steps back from t: bounded work on any text


def render(sel: Selection, tt: TextTrace) -> None:
    t, sym = sel.t, sel.sym
    if t == 0:
        first_step.answer(sel, tt, "gradients")
        return
    since = max(0, t - MAX_JACOBIAN_SPAN)
    norms = cache.gradient_norms(sel.model_key, tt.text, t, sel.layer, since, tt, sel.start)
    contrast = cache.contrast_for(sel.model)
    rnn = cache.rnn_gradient_norms(contrast, tt.text, t, since) if contrast else None
    path = direct_path(tt, t, sel.layer, since)
    z = tt.gate("z", sel.layer, steps=slice(since, t + 1))  # (t − since + 1, H)
    lead, *claims = gradient_claims(norms, path["max"].tolist(), rnn, sel.notation,
                                    f"the plain RNN {plain(contrast or '')}", z)
    st.markdown(lead.text)
    st.plotly_chart(charts.gradient_flow(path.distance, norms, path["mean"], path["max"],
                                         sym, rnn, f"plain RNN {contrast}", HOLDS),
                    config=charts.CONFIG, key="grad")
    st.markdown(" ".join(c.text for c in claims))
    st.caption("Log scales. Top: the exact Jacobian norm from autograd, every path (black: this "
               "GRU; "
               + (f"red: {plain(contrast or '')}, a plain tanh RNN trained on the same data). "
                  if rnn else "no plain RNN is trained on this model's data, so none is "
                  "drawn). ")
               + f"Bottom: the direct path {sym['h_s']} → {sym['h_t']} through "
               f"{sym['keep']} alone: {sym['prod_z']} of the best unit (solid) and averaged "
               f"over units (dotted); dashed: {HOLDS:.0%} kept.")


VIEW = View("gradients", "Vanishing gradients",
            "How does the update gate help with vanishing gradients?", render,
            link=dict(ckpt="agreement", text=COURSE_TEXT, t=COURSE_TEXT.index(", were") + 2,
                      unit=0), ahead=False)
