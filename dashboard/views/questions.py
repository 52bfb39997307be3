"""The forum's questions, each a link to the view that answers it on a shipped model."""

from __future__ import annotations

import streamlit as st

from ..selection import view_link
from ..view import View


def index(views: list[View]) -> None:
    st.header("Questions from the course forum, answered on a trained GRU")
    for view in views:
        st.markdown(f"**{view.question}** → [{view.label}]({view_link(view.key, **view.link)})")
    st.caption("Each link opens a live view on a shipped model; change the text, step or unit "
               "there and the answer is recomputed.")
