"""A bare page that renders a forum post as Streamlit renders Markdown (remark-math + KaTeX):
the browser test reads the post from the file POST_FILE names and counts KaTeX's output and
errors. Run by tests/app/test_example.py, never by the app."""

import os
from pathlib import Path

import streamlit as st

st.markdown(Path(os.environ["POST_FILE"]).read_text(encoding="utf-8"))
