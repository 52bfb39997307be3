"""The model's next-token prediction at t: its five likeliest tokens, the actual one marked, as
parts of plain text (gru_core's top_k, formatted here).

The browser draws it (live_chart.live_prediction) for the server's t and for each step of the
window that ◀ ▶, a key, the slider or the player shows, from the same parts.
"""

from __future__ import annotations

import streamlit as st

from gru_core import TextTrace, top_k

from ...live_chart import live_prediction
from ...text import show_token

KEY = "step_prediction"


def parts(tt: TextTrace, t: int) -> dict:
    """The title, the five rows (the token as the page shows it, its probability as text and
    as a bar's width in percent, whether it is the token that follows), and the caption."""
    actual = tt.tokens[t + 1] if t + 1 < tt.T else None
    rows = [{"token": repr(show_token(tok)), "text": f"{p:.2%}", "width": f"{100 * p:.2f}",
             "actual": tok == actual} for tok, p in top_k(tt.probs[t], tt.vocab)]
    said = (f"; the text actually continues with {show_token(actual)!r} (marked when it is "
            "among them)." if actual is not None else ".")
    return {"t": t, "title": f"Next token after t = {t}", "rows": rows,
            "caption": f"The model's top 5 guesses for the token after t{said}"}


def draw(tt: TextTrace, t: int, w: slice, revision: str) -> None:
    """The prediction at t, with the parts of every step of the window w for the browser."""
    if tt.probs is None:
        st.caption("This model has no head: it predicts nothing, only its states are shown.")
        return
    live_prediction(lambda: [parts(tt, s) for s in range(w.start, w.stop)], revision, t,
                    key=KEY)
