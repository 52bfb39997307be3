"""At t = 0 the span questions have no earlier step: say so with the step's own numbers, and
offer the step the analysis suggests."""

from __future__ import annotations

import streamlit as st

from gru_core import TextTrace, first_step_claim

from ..selection import Selection


def answer(sel: Selection, tt: TextTrace, question: str) -> None:
    claim = first_step_claim(tt, sel.unit, sel.layer, sel.notation, question)
    st.markdown(claim.text)
    goto, unit = claim.evidence["goto"], claim.evidence["unit"]
    if goto is not None:
        st.button(f"Go to step {goto}" + (f", unit {unit}" if unit != sel.unit else ""),
                  key="first_step_goto", on_click=_go, args=(goto, unit))


def _go(t: int, unit: int) -> None:
    st.session_state["t"] = t
    st.session_state["unit"] = unit
