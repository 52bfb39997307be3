"""GRU stepper (placeholder until the dashboard lands)."""
import streamlit as st

st.title("GRU stepper")
