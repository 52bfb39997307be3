"""The forum's questions, each a link to the view that answers it on a shipped model."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from ..view import View


def index(views: list[View]) -> None:
    st.header("Questions from the course forum, answered on a trained GRU")
    for view in views:
        url = "?" + urlencode({"view": view.key, **view.link})
        st.markdown(f"**{view.question}** → [{view.label}]({url})")
    st.caption("Each link opens a live view on a shipped model; change the text, step or unit "
               "there and the answer is recomputed.")
