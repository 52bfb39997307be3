"""The view-switch baseline for bench/step_latency.py: a bare Streamlit page whose sidebar
switches between views of two Plotly charts each, and which opens at the link's ?t=."""

import plotly.graph_objects as go
import streamlit as st

VIEWS = ("one", "two", "three")
view = st.sidebar.radio("View", VIEWS, key="view")
t = int(st.query_params.get("t", 0))
st.header(f"View {view} at t = {t}")
k = VIEWS.index(view) + 1
for c in range(2):
    st.plotly_chart(go.Figure(go.Scatter(y=[(t * k * (c + 1) * i) % 7 for i in range(60)])),
                    key=f"chart{c}")
