"""The what-if edit in the URL: wf_gate=z&wf_value=0.5&wf_step=40.

wf_gate is z or r and wf_value its new value in [0, 1], both as PyTorch names them (a link
means the same edit in either notation: the course's Γu = 1 − z is shown as such); wf_step is
the step whose prediction is shown (left out: the step the edit changes most). Read once per
session, strictly: a bad value is dropped with a plain notice that does not repeat it.
"""

from __future__ import annotations

import re

import streamlit as st

from ...selection import first_time, notice

KEYS = ("wf_gate", "wf_value", "wf_step")
_VALUE = re.compile(r"0(?:\.[0-9]{1,2})?|1(?:\.0{1,2})?|\.[0-9]{1,2}")  # ASCII, two decimals
_STEP = re.compile(r"[0-9]{1,7}")


def init_from_url() -> None:
    """Once per session, after selection.init_from_url: open the what-if panel on the edit."""
    if not first_time("_wf_initialised"):
        return
    qp = st.query_params
    if not any(k in qp for k in KEYS):
        return
    gate, raw = qp.get("wf_gate", "z"), qp.get("wf_value", "").strip()
    if gate not in ("z", "r"):
        notice("wf_gate must be z or r; the what-if edit in the link is left out.")
        return
    if not _VALUE.fullmatch(raw):
        notice("wf_value must be a number from 0 to 1 with at most two decimals (like 0.5); "
               "the what-if edit in the link is left out.")
        return
    value = float(raw)
    shown = round(1 - value, 2) if gate == "z" and st.session_state.get("notation") == "course" \
        else value
    st.session_state.update(whatif=True, whatif_gate=gate, wf_gate=gate, wf_value=f"{value:g}")
    st.session_state[f"whatif_{gate}"] = shown
    if "wf_step" in qp:
        if _STEP.fullmatch(qp["wf_step"].strip()):
            st.session_state["wf_step"] = int(qp["wf_step"])
            st.session_state["_wf_step_from_url"] = True
        else:
            notice("wf_step is not a whole number; the prediction is shown at the step the "
                   "edit changes most.")


def remember(gate: str, value: float) -> None:
    """The edit now on the page, for the URL."""
    st.session_state["wf_gate"], st.session_state["wf_value"] = gate, f"{value:g}"


def forget() -> None:
    """The panel is closed: the URL carries no edit."""
    for key in KEYS:
        st.session_state.pop(key, None)


def step(steps: range, default: int) -> tuple[int, str | None]:
    """The step whose prediction is shown: the one picked (or linked) if it is among `steps`;
    with the notice, when a linked step is not, for the panel to show (numbers only)."""
    picked = st.session_state.get("wf_step")
    from_url = st.session_state.pop("_wf_step_from_url", False)
    if picked is None:
        return default, None
    if picked not in steps:
        st.session_state.pop("wf_step")
        return default, (f"wf_step={picked} is outside the {len(steps)} steps the edit runs "
                         f"({steps.start}..{steps.stop - 1}); showing t = {default}."
                         if from_url else None)
    return picked, None


def pick(key: str) -> None:
    """on_change of the step box."""
    st.session_state["wf_step"] = int(st.session_state[key])
