"""Every unit at this step, as the forum's mentor wrote it: the counts, then a sentence per
unit (gru_core's StepSummary), as parts of plain text.

The server draws the step's parts with Streamlit (draw); the window's parts go to the browser
with the card's (cards.py), which shows the summary of a step ◀ ▶, a key or the slider moved
to at once, from the same parts, while the server follows (chart.js, fillSummary).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from gru_core import StepSummary, sentence

LEAD = "Every unit at this step."
PICK = "The units whose value changed most, then the two that held best (click one to step it):"


def parts(summary: StepSummary, notation: str) -> dict:
    """The counts' sentence, and each listed unit with its sentence (after "unit U: ")."""
    rows = summary.listed.itertuples()  # read once: a window of steps asks for each
    return {"lead": LEAD, "headline": f"{summary.headline(notation)} {PICK}",
            "rows": [{"unit": int(row.unit), "sentence": sentence(row, notation).split(": ", 1)[1]}
                     for row in rows]}


def draw(p: dict, unit: int, select: Callable[[int], None]) -> None:
    """The summary from its parts, in one keyed block the browser's copy replaces while the
    server follows a step; a unit's button selects it (the selected unit's is disabled)."""
    with st.container(key="summary_server"):
        st.markdown(f"**{p['lead']}** {p['headline']}")  # our own sentences
        for row in p["rows"]:
            pick, text = st.columns([1, 9], vertical_alignment="center")
            pick.button(f"unit {row['unit']}", key=f"pick_{row['unit']}", on_click=select,
                        args=(row["unit"],), disabled=row["unit"] == unit)
            text.markdown(row["sentence"])
