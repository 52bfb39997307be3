"""The forum's questions, each a link to the view that answers it: on the reader's own model and
text (as the page holds them), and on the shipped example the question was first asked on."""

from __future__ import annotations

import streamlit as st

from ..selection import view_link
from ..view import View

KEPT = ("ckpt", "text", "t", "unit", "layer", "direction", "notation", "h0_ckpt", "h0_text")


def index(views: list[View]) -> None:
    here = {k: st.query_params[k] for k in KEPT if k in st.query_params}  # the reader's page
    notation = {"notation": here["notation"]} if "notation" in here else {}
    st.header("Questions from the course forum, answered on a trained GRU")
    for view in views:
        st.markdown(f"**{view.question}** → [{view.label}, on your model and text]"
                    f"({view_link(view.key, **here)}) · [on the shipped example]"
                    f"({view_link(view.key, **view.link, **notation)})")
    st.caption("The first link keeps the model, text, step and unit you have open; the second "
               "opens the example the view was written for. Change the text, step or unit "
               "there and the answer is recomputed.")
