"""The forum's questions, each answered by a live view on the user's model and text."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from gru_core import jacobian_norms
from gru_core.lm import top_k
from gru_core.memory import direct_path, holders
from gru_core.notation import SYMBOLS
from gru_core.reset import reset_counterfactual
from gru_core.saturation import describe, fractions, histogram, saturation
from gru_core.units import minimal_pair_of, were_minus_was

from . import charts, models
from .state import COURSE_TEXT, VIEWS

HAMLET = (
    "HAMLET:\nTo be, or not to be, that is the question:\nWhether 'tis nobler in the mind to "
    "suffer\nThe slings and arrows of outrageous fortune,\nOr to take arms against a sea of "
    "troubles,\nAnd by opposing end them? To die: to sleep;\nNo more; and by a sleep to say we "
    "end\nThe heart-ache and the thousand natural shocks\nThat flesh is heir to, 'tis a "
    "consummation\nDevoutly to be wish'd. To die, to sleep;\nTo sleep: perchance to dream: ay, "
    "there's the rub;\nFor in that sleep of death what dreams may come\nWhen we have shuffled off "
    "this mortal coil,\nMust give us pause: there's the respect\nThat makes calamity of so long "
    "life;\n"
)
MAX_JACOBIAN_SPAN = 500  # steps back from t: bounded work on any text

GUIDED = {
    "saturation": ("In practice, do gates go to 0 and 1, or stay grey?",
                   dict(ckpt="shakespeare", text=HAMLET, t=100, unit=0)),
    "memory": ("If the update gate keeps the memory cell, isn't the activation frozen too?",
               dict(ckpt="agreement", text=COURSE_TEXT, t=COURSE_TEXT.index("fish"),
                    s=COURSE_TEXT.index("fish") - 8, unit=0)),
    "gradients": ("How does the update gate help with vanishing gradients?",
                  dict(ckpt="shakespeare", text=HAMLET, t=400, unit=0)),
    "reset": ("What does the reset gate contribute?",
              dict(ckpt="shakespeare", text=HAMLET, t=HAMLET.index("question") + 3, unit=0)),
    "number": ("Does a unit keep singular/plural across the clause?",
               dict(ckpt="agreement", text=COURSE_TEXT, t=COURSE_TEXT.index(", were") + 2)),
}


def link(view: str, **params) -> str:
    return "?" + urlencode({"view": view, **params})


def index() -> None:
    st.header("Questions from the course forum, answered on a trained GRU")
    for view, (question, params) in GUIDED.items():
        st.markdown(f"**{question}** → [{VIEWS[view]}]({link(view, **params)})")
    st.caption("Each link opens a live view on a shipped model; change the text, step or unit "
               "there and the answer is recomputed.")


def render(view, ck, tt, t, unit, layer, direction, notation) -> None:
    sym = SYMBOLS[notation]
    {"saturation": _saturation, "memory": _memory, "gradients": _gradients, "reset": _reset,
     "number": _number}[view](ck, tt, t, unit, layer, direction, sym)


def _saturation(ck, tt, t, unit, layer, direction, sym) -> None:
    tr = tt.trace
    st.markdown(f"Over the {tr.T} steps of this text, layer {layer}, all "
                f"{tr.config.hidden_size} units:")
    cols = st.columns(2)
    for col, gate in zip(cols, ("r", "z"), strict=True):
        f = fractions(tr, gate, layer)
        col.metric(f"{sym[gate]} near 0 (< 0.1)", f"{f['below']:.1%}")
        col.metric(f"{sym[gate]} grey (0.1–0.9)", f"{f['between']:.1%}")
        col.metric(f"{sym[gate]} near 1 (> 0.9)", f"{f['above']:.1%}")
        col.markdown(describe(sym[gate], f))
    hists = {sym[g]: histogram(tr, g, layer) for g in ("r", "z")}
    st.plotly_chart(charts.saturation_histogram(hists, 0.1, 0.9), config=charts.CONFIG,
                    key="sat_hist")
    st.caption("Mass piled at the edges means saturated gates; a hump in the middle means grey.")
    df = saturation(tr)
    st.plotly_chart(charts.saturation_scatter(df[df.layer == layer], sym), config=charts.CONFIG,
                    key="sat_scatter")
    st.caption("Each dot is a unit (Karpathy, Johnson & Fei-Fei 2015). Top left: almost always "
               "near 1; bottom right: almost always near 0; near the origin: grey.")


def _memory(ck, tt, t, unit, layer, direction, sym) -> None:
    tr = tt.trace
    if t == 0:
        st.info("Pick a step t > 0 to see what was held since an earlier step.")
        return
    st.session_state["s"] = min(max(int(st.session_state.get("s", max(0, t - 20))), 0), t - 1)
    s = st.slider("Span start s (the earlier step)", 0, t - 1, key="s")
    df = holders(tr, s, t, layer)  # sorted by retention; the bars want unit order
    ret = df.sort_values("unit").retention.to_numpy()
    held, moved = int((df.retention > 0.5).sum()), int((df.retention < 0.01).sum())
    best = df.iloc[0]
    if held:
        st.markdown(f"From step {s} to step {t}, **{held}** units kept more than half of their "
                    f"value along the direct path and **{moved}** kept less than 1%: the gates are "
                    "vectors, so some units hold while the others move. The activation is not "
                    "frozen.")
    else:
        st.markdown(f"From step {s} to step {t} no unit kept more than half of its value along "
                    f"the direct path (the best, unit {int(best.unit)}, kept {best.retention:.2g}; "
                    f"**{moved}** kept less than 1%). Over {t - s} steps every unit was "
                    "rewritten at least partly: try a shorter span to see units hold.")
    top = df.unit[:3].tolist()
    st.plotly_chart(charts.retention_bars(ret, top, sym["z"]),
                    config=charts.CONFIG, key="ret_bars")
    st.caption(f"Retention = product of {sym['z']} over steps s+1..t: the share of h_s that "
               "reaches h_t without passing through the candidate. Orange: the three best holders.")
    lo, hi = max(0, s - 5), min(tr.T, t + 6)
    steps = range(lo, hi)
    h = tr.gate("h", layer)
    series = {f"unit {u} (holds, {r:.2f})": h[lo:hi, u].numpy()
              for u, r in zip(df.unit[:3], df.retention[:3], strict=True)}
    series.update({f"unit {u} (moves, {r:.0e})": h[lo:hi, u].numpy()
                   for u, r in zip(df.unit[-2:], df.retention[-2:], strict=True)})
    st.plotly_chart(charts.unit_lines(steps, [tt.text[i] for i in steps], series,
                                      "h of the best holders and of units that move",
                                      span=(s, t)), config=charts.CONFIG, key="ret_lines")
    st.caption("Inside the shaded span the holders stay flat while the other units change.")
    st.dataframe(df.head(10).round(4), hide_index=True)


@st.cache_data(max_entries=16, show_spinner="Differentiating h_t with respect to every h_s…")
def _norms(model_key: str, text: str, t: int, layer: int, since: int, _ck, _tt) -> list[float]:
    return jacobian_norms(_ck.model.gru, _tt.trace.layer_inputs[0], t, layer, since=since,
                          trace=_tt.trace).tolist()


def _gradients(ck, tt, t, unit, layer, direction, sym) -> None:
    if t == 0:
        st.info("Pick a step t > 0.")
        return
    since = max(0, t - MAX_JACOBIAN_SPAN)
    norms = _norms(ck.name, tt.text, t, layer, since, ck, tt)
    path = direct_path(tt.trace, t, layer, since)
    st.plotly_chart(charts.gradient_flow(path.distance, norms, path["mean"], path["max"],
                                         sym["z"]), config=charts.CONFIG, key="grad")
    far = path.iloc[0]
    st.markdown(
        f"From t = {t} back to s = {since} ({t - since} steps): ‖∂h_t/∂h_s‖ goes from "
        f"{norms[-1]:.2f} (s = t, the identity) to {norms[0]:.2e}. Along the direct path the "
        f"best-held unit still passes on {far['max']:.2e} of its value: a product of "
        f"{sym['z']} close to 1 is a path on which the gradient does not shrink step after "
        "step, which is how the update gate fights vanishing gradients.")
    st.caption("Log scale. Black: the exact Jacobian norm from autograd (all paths). Green: the "
               f"direct path h_s → h_t through {sym['z']}·h_prev alone.")


def _reset(ck, tt, t, unit, layer, direction, sym) -> None:
    if ck.config.bidirectional:
        st.info("The counterfactual is defined for unidirectional models.")
        return
    cf = reset_counterfactual(ck.model, tt, t, layer)
    units = range(ck.config.hidden_size)
    delta = (cf.n - cf.n_no_reset).abs()
    st.markdown(f"At step t = {t} (reading {charts.show_char(tt.text[t])!r}), removing the reset "
                f"gate (r = 1) would move the candidate by up to **{delta.max():.3f}** "
                f"(mean {delta.mean():.3f}). The reset gate decides how much of the old state "
                "enters the candidate.")
    series = {f"{sym['n']} with the actual {sym['r']}": cf.n.numpy(),
              f"{sym['n']} with {sym['r']} = 1 (no reset)": cf.n_no_reset.numpy(),
              "course's c̃ (reset before the product)": cf.n_course.numpy()}
    st.plotly_chart(charts.candidates(units, series, f"The candidate at t = {t}, every unit"),
                    config=charts.CONFIG, key="reset_n")
    st.caption("Where the dots part, the reset gate changed what the unit could become.")
    a, b = st.columns(2)
    a.plotly_chart(charts.prediction_chart(top_k(cf.probs, tt.vocab), "Next character (actual)"),
                   config=charts.CONFIG, key="reset_p")
    b.plotly_chart(charts.prediction_chart(top_k(cf.probs_no_reset, tt.vocab),
                                           "Next character with r = 1 at this step"),
                   config=charts.CONFIG, key="reset_p1")


def _number(ck, tt, t, unit, layer, direction, sym) -> None:
    if not {"a", "e", "w"} <= set(ck.vocab) or ck.name != "agreement":
        st.info("The number-unit finder works on the `agreement` model: open it from the "
                f"[questions page]({link('number', **GUIDED['number'][1])}).")
        return
    table = models.number_table(ck.name, ck, layer)
    pair = minimal_pair_of(tt.text) or minimal_pair_of(COURSE_TEXT)
    top = table.unit[:2].tolist()
    st.markdown(f"Ranked over 40 held-out minimal pairs, unit **{top[0]}** differs most between "
                f"singular and plural all through the clause (mean h difference "
                f"{table.difference[0]:+.3f}, held at {table.persistence[0]:.0%} of clause steps).")
    sg, pl = (models.trace(ck.name, ck, text) for text in pair)
    cols = st.columns(2)
    for col, tr_, number in zip(cols, (sg, pl), ("singular", "plural"), strict=True):
        col.metric(f"P(were) − P(was), {number}: “{tr_.text}”", f"{were_minus_was(tr_):+.3f}")
    start, start_pl = pair[0].index(","), pair[1].index(",")  # "cat," / "cats,", "boxes,"
    steps = range(start, len(pair[0]))
    pairs = {u: (sg.trace.gate("h", layer)[start:, u].numpy(),
                 pl.trace.gate("h", layer)[start_pl:, u].numpy()) for u in top}
    st.plotly_chart(charts.pair_lines(steps, pair[0][start:], pairs,
                                      "The top units through the clause: singular vs plural"),
                    config=charts.CONFIG, key="num_lines")
    st.caption("Same characters from the comma on; a gap that stays open to the final “w” is "
               "the memory of the subject's number.")
    end = len(pair[1]) - 1
    st.markdown(" · ".join(
        f"[step through unit {u}]({link('step', ckpt='agreement', text=pair[1], t=end, unit=u)})"
        for u in top))
    st.dataframe(pd.DataFrame(table.head(10)).round(4), hide_index=True)
