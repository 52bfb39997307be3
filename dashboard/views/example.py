"""The worked example: a few steps × a few units, every term in a table per step, the mentor's
sentences, and the whole of it as a forum post, with a link that reopens it (or says why not)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gru_core import (
    MAX_STEPS,
    MAX_UNITS,
    SYMBOLS,
    TextTrace,
    step_summary,
    worked_example,
)

from .. import offline
from ..post import show, step_latex, worked_post
from ..selection import Selection, format_list, parse_list, write_url
from ..text import code_span, md_escape, show_token
from ..view import View
from .stepper import start_from


def labels(notation: str) -> dict[str, str]:
    """The table's column names, in the page's notation (SYMBOLS: one symbol, one quantity)."""
    s = SYMBOLS[notation]
    parts = {"ir": "ir", "hr": "hr", "iz": "iz", "hz": "hz", "in": "in", "hn": "hn"}
    if notation == "course":  # PyTorch's split of each gate, named by the course's symbol
        parts = {k: f"{s[g]}: {where} part" for k, g, where in (
            ("ir", "r", "input"), ("hr", "r", "hidden"), ("iz", "z", "input"),
            ("hz", "z", "hidden"), ("in", "n", "input"), ("hn", "n", "hidden"))}
    return {"unit": "unit", "h_prev": s["h_prev"], **parts, "r": s["r"], "z": s["z"],
            "n": s["n"], "keep": f"{s['keep']} (kept)", "new": f"{s['new']} (new)",
            "h": s["h"]}


# the terms' column, in pixels: the grid sizes a column by its first rows, which would cut
# "(1−z)·n (new)" further down
TERM_WIDTH = 135


def terms_table(table: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """One step's table as the page shows it: a row per term in the order of the equations,
    a column per unit (13 terms across would not fit a 1280-pixel screen; ten units do)."""
    out = table.set_index("unit").rename(columns=names).T
    out.columns = [f"unit {u}" for u in out.columns]
    return out.rename_axis("term")


def chosen(sel: Selection, tt: TextTrace) -> tuple[list[int], list[int]]:
    """The example's steps and units: the URL's or the stepper's, kept to this text and model
    (a notice for each dropped one); by default t and t + 1, the unit and the two that moved
    most at t."""
    T, H = tt.T, tt.config.hidden_size
    if not st.session_state.get("steps"):
        st.session_state["steps"] = format_list([t for t in (sel.t, sel.t + 1) if t < T])
    if not st.session_state.get("units"):
        moved = step_summary(tt, sel.t, sel.layer, sel.direction).changed.unit.tolist()
        st.session_state["units"] = format_list(list(dict.fromkeys([sel.unit, *moved]))[:3])
    out = []
    for key, hi, what in (("steps", T, f"the text has {T} steps"),
                          ("units", H, f"the model has {H} units")):
        values = parse_list(key, st.session_state[key])
        kept = [v for v in values if v < hi]
        if len(kept) < len(values):
            st.warning(f"{key}: {len(values) - len(kept)} dropped, outside 0..{hi - 1} ({what}).")
        if not kept:
            kept = [min(sel.t, T - 1)] if key == "steps" else [sel.unit]
        st.session_state[key] = format_list(kept)
        out.append(kept)
    return out[0], out[1]


def _edited(key: str) -> None:
    st.session_state[key] = format_list(parse_list(key, st.session_state[f"{key}_box"]))


def render(sel: Selection, tt: TextTrace) -> None:
    steps, units = chosen(sel, tt)
    a, b = st.columns(2)
    for col, key, cap in ((a, "steps", MAX_STEPS), (b, "units", MAX_UNITS)):
        st.session_state[f"{key}_box"] = st.session_state[key]
        col.text_input(f"{key.capitalize()} (a list or a range: 33,34 or 30-34; at most {cap})",
                       key=f"{key}_box", on_change=_edited, args=(key,))
    ex = worked_example(tt, steps, units, sel.layer, sel.direction)
    names = labels(sel.notation)
    for i, t in enumerate(steps):
        st.markdown(f"**t = {t}**, reading {code_span(show_token(ex.tokens[i]))}")
        table = terms_table(ex.tables[i], names)
        st.dataframe(table, key=f"ex_{t}", height="content",  # every term in view
                     column_config={"_index": st.column_config.TextColumn(width=TERM_WIDTH),
                                    **{c: st.column_config.NumberColumn(format="%.4f")
                                       for c in table.columns}})
        for line in ex.sentences(i, sel.notation):
            st.markdown("- " + md_escape(line))
    tables = [terms_table(table, names) for table in ex.tables]
    link = sel.link(steps=format_list(steps), units=format_list(units))
    start = "" if sel.start is None else start_from.words(sel, tt, units)
    post = worked_post(ex, sel.model.name, tt.text, link, sel.notation, start)
    st.markdown("**The forum post** (Markdown with LaTeX: paste it as it is):")
    show(post, sel.model_key, tt.text, link)
    st.download_button("Offline copy: this worked example as one HTML file (no server needed)",
                       key="ex_html", mime="text/html",
                       file_name=f"gru_example_t{format_list(steps)}_u{format_list(units)}.html",
                       data=lambda: offline.example_html(ex, tables, post, sel.notation,
                                                         [step_latex(ex, i, sel.notation)
                                                          for i in range(len(steps))]))
    write_url(sel.params(steps=format_list(steps), units=format_list(units)))


VIEW = View("example", "Worked example",
            "A worked example: every term at a few steps for a few units, as a forum post",
            render, link={"steps": "33,34", "units": "0,1,2", "ckpt": "shakespeare",
                          "text": "First Citizen:\nBefore we proceed any further, hear me speak."},
            params=("steps", "units"))

