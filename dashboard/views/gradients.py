"""How does the update gate help with vanishing gradients?"""

from __future__ import annotations

import streamlit as st

from gru_core import TextTrace, describe_flow, direct_path

from .. import cache, charts
from ..selection import Selection
from ..view import View
from .texts import HAMLET

MAX_JACOBIAN_SPAN = 500  # steps back from t: bounded work on any text


def render(sel: Selection, tt: TextTrace) -> None:
    t, sym = sel.t, sel.sym
    if t == 0:
        st.info("Pick a step t > 0.")
        return
    since = max(0, t - MAX_JACOBIAN_SPAN)
    norms = cache.gradient_norms(sel.model_key, tt.text, t, sel.layer, since, tt)
    rnn = cache.rnn_gradient_norms(tt.text, t, since) if cache.contrast_for(sel.model) else None
    path = direct_path(tt, t, sel.layer, since)
    st.plotly_chart(charts.gradient_flow(path.distance, norms, path["mean"], path["max"],
                                         sym["z"], rnn), config=charts.CONFIG, key="grad")
    st.markdown(describe_flow(norms, path["max"].tolist(), rnn, sym["z"]))
    st.caption("Log scale. Black: the GRU's exact Jacobian norm from autograd (all paths). "
               + ("Red: the same for `shakespeare-rnn`, a plain tanh RNN trained on the same "
                  "data. " if rnn else "")
               + f"Green: the GRU's direct path h_s → h_t through {sym['z']}·h_prev alone.")


VIEW = View("gradients", "Vanishing gradients",
            "How does the update gate help with vanishing gradients?", render,
            link=dict(ckpt="shakespeare", text=HAMLET, t=400, unit=0))
