"""The baseline for bench/step_latency.py: a bare Streamlit page that draws one Plotly chart."""

import plotly.graph_objects as go
import streamlit as st

st.session_state.setdefault("i", 0)
if st.button("next", key="next"):
    st.session_state["i"] += 1
i = st.session_state["i"]
st.subheader(f"Step {i}")
st.plotly_chart(go.Figure(go.Scatter(y=[(i * k) % 7 for k in range(60)])))
