"""What a chart's hover says, on every chart the app draws: each trace's name whole (Plotly cuts
a name in its hover's side box to 15 characters), its numbers formatted as the page prints
them (never a raw %{y}: 0.07640333), a step with its token, and the course's symbols in the
course's notation. Read off the figures the page sends: st.plotly_chart's specs and the live
chart's."""

import json
import re

import pytest

from ..conftest import open_app
from .test_app import COURSE, decode, live_charts
from .test_stepper import PYTORCH, _not_about_pytorch

SHORT = 15  # Plotly's default hoverlabel.namelength
STEP = re.compile(r"\d+ \('.+'\)")  # 75 ('w'), as charts.step_said writes it
# as the page prints a number: fmt's 4 decimals, fmt_e, a percentage, a retention's share
NUMBER = re.compile(r"−?\d+\.\d{4,8}|−?\d\.\d{1,2}e[+−]\d+|\d+(\.\d+)?%|less than 1e−300")
PAGES = {
    "step": dict(view="step", ckpt="agreement", text=COURSE, t=30, unit=5, wf_gate="z",
                 wf_value="0.5"),  # the what-if panel open, its chart drawn
    "compact": dict(view="step", ckpt="agreement", text=COURSE, t=30, unit=5, layout="compact"),
    "memory": dict(view="memory", ckpt="agreement", text=COURSE, t=37, unit=76),
    "gradients": dict(view="gradients", ckpt="agreement", text=COURSE, t=37, unit=76),
    "reset": dict(view="reset", ckpt="agreement", text=COURSE, t=37, unit=76),
    "saturation": dict(view="saturation", ckpt="agreement", text=COURSE),
    "number": dict(view="number", ckpt="agreement", text=COURSE, t=37, unit=76),
    "signal": dict(view="step", ckpt="trigger-word", t=20),
}


def figures(at) -> list[dict]:
    """Every figure the page draws: the st.plotly_chart ones and the live chart's."""
    return ([json.loads(c.proto.spec) for c in at.get("plotly_chart")]
            + list(live_charts(at).values()))


def hover_problems(fig: dict) -> list[str]:
    """What a hover on `fig` would print wrong: a name cut, a number raw, a step without its
    token, a number not as the page prints it."""
    out, layout = [], fig["layout"]
    shown = layout.get("hoverlabel", {}).get("namelength", SHORT)
    for d in fig["data"]:
        if d.get("hoverinfo") in ("skip", "none"):
            continue
        name, tpl = d.get("name", ""), d.get("hovertemplate")
        if tpl is None:  # Plotly's default: "(x, y)" in raw floats beside the name, cut
            out.append(f"{name!r}: no hovertemplate")
            continue
        if not tpl.endswith("<extra></extra>") and shown != -1 and len(name) > shown:
            out.append(f"{name!r}: cut to {shown} characters in the hover's side box")
        raw = re.findall(r"%\{([yz])\}", tpl)  # a raw x is a label: a unit, a category
        out += [f"{tpl!r}: raw %{{{v}}}" for v in raw]
        if "t = %{x}" in tpl:  # a step: the time axis aliases each to its words
            xs = decode(d["x"])
            alias = layout.get(f"xaxis{d.get('xaxis', 'x')[1:]}", {}).get("labelalias", {})
            if not all(isinstance(x, str) or str(x) in alias for x in xs.tolist()):
                out.append(f"{tpl!r}: prints a step number without its token")
            out += [f"alias {a!r}" for a in alias.values() if not STEP.fullmatch(a)]
        points = d.get("customdata") if "%{customdata[" in tpl else None
        if points is not None and "t = %{customdata[0]}" in tpl:
            out += [f"{name!r}: step {p[0]!r}" for p in points if not STEP.fullmatch(p[0])]
        if points is not None and ": %{customdata[1]}" in tpl:
            out += [f"{name!r}: value {p[1]!r}" for p in points if not NUMBER.fullmatch(p[1])]
    return out


@pytest.mark.parametrize("page", list(PAGES))
def test_every_hover_names_its_trace_whole_and_prints_the_pages_numbers(page):
    at = open_app(**PAGES[page], notation="course")
    assert not at.exception
    figs = figures(at)
    assert figs, "no chart drawn"
    assert {"step": 2, "compact": 2}.get(page, 1) <= len(figs)  # the what-if's chart too
    problems = [p for fig in figs for p in hover_problems(fig)]
    assert not problems, problems
    hovers = [d.get("name", "") + " " + d.get("hovertemplate", "") for fig in figs
              for d in fig["data"]]
    found = [(m.group(0), s) for text in hovers for s in _not_about_pytorch(text)
             for m in PYTORCH.finditer(s)]
    assert not found, found


def test_the_check_finds_a_cut_name_and_a_raw_number():
    """hover_problems on the figures the app drew before: a default hover, a raw %{y}."""
    fig = {"layout": {}, "data": [
        {"type": "scatter", "x": [1, 2], "y": [0.07640333, 0.5], "name": "c⟨t⟩ = kept + new"},
        {"type": "scatter", "x": [1, 2], "y": [0.1, 0.2], "name": "∏z",
         "hovertemplate": "t = %{x}: %{y}"},
        {"type": "scatter", "x": [1], "y": [0.5], "name": "direct path: the best unit's ∏z",
         "hovertemplate": "%{y:.4f}"}]}
    assert [p.split(": ")[-1] for p in hover_problems(fig)] == [
        "no hovertemplate", "raw %{y}", "prints a step number without its token",
        "cut to 15 characters in the hover's side box"]
