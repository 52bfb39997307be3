"""If the update gate keeps the memory cell, isn't the activation frozen too?"""

from __future__ import annotations

import streamlit as st

from gru_core import HOLDS, MOVES, TextTrace, count_of, held_and_moved, holders

from .. import charts
from ..selection import COURSE_TEXT, Selection
from ..view import View


def render(sel: Selection, tt: TextTrace) -> None:
    t, sym = sel.t, sel.sym
    if t == 0:
        st.info("Pick a step t > 0 to see what was held since an earlier step.")
        return
    st.session_state["s"] = min(max(int(st.session_state.get("s", max(0, t - 20))), 0), t - 1)
    s = st.slider("Span start s (the earlier step)", 0, t - 1, key="s")
    df = holders(tt, s, t, sel.layer)  # sorted by retention; the bars want unit order
    held, moved = held_and_moved(df)
    best = df.iloc[0]
    if held:
        noun = count_of(held, "unit").split()[1]
        st.markdown(f"From step {s} to step {t}, **{held}** {noun} kept more than half "
                    f"of {'its' if held == 1 else 'their'} value along the direct path and "
                    f"**{moved}** kept less than 1%: the gates are vectors, so some units hold "
                    "while the others move. The activation is not frozen.")
    else:
        st.markdown(f"From step {s} to step {t} no unit kept more than half of its value along "
                    f"the direct path (the best, unit {int(best.unit)}, kept {best.retention:.2g}; "
                    f"**{moved}** kept less than 1%). Over {count_of(t - s, 'step')} every unit "
                    "was rewritten at least partly: try a shorter span to see units hold.")
    top = df.unit[:3].tolist()
    st.plotly_chart(charts.retention_bars(df.sort_values("unit").retention.to_numpy(), top,
                                          sym["z"]), config=charts.CONFIG, key="ret_bars")
    st.caption(f"Retention = product of {sym['z']} over steps s+1..t: the share of h_s that "
               "reaches h_t without passing through the candidate. Orange: the three best holders "
               f"(above {HOLDS:.0%} counts as kept, below {MOVES:.0%} as rewritten).")
    lo, hi = max(0, s - 5), min(tt.T, t + 6)
    steps = range(lo, hi)
    h = tt.gate("h", sel.layer, steps=slice(lo, hi))
    series = {f"unit {u} (holds, {r:.2f})": h[:, u].numpy()
              for u, r in zip(df.unit[:3], df.retention[:3], strict=True)}
    series.update({f"unit {u} (moves, {r:.0e})": h[:, u].numpy()
                   for u, r in zip(df.unit[-2:], df.retention[-2:], strict=True)})
    st.plotly_chart(charts.unit_lines(steps, tt.tokens[lo:hi], series,
                                      "h of the best holders and of units that move",
                                      span=(s, t)), config=charts.CONFIG, key="ret_lines")
    st.caption("Inside the shaded span the holders stay flat while the other units change.")
    st.dataframe(df.head(10).round(4), hide_index=True)


VIEW = View("memory", "Is the state frozen?",
            "If the update gate keeps the memory cell, isn't the activation frozen too?", render,
            link=dict(ckpt="agreement", text=COURSE_TEXT, t=COURSE_TEXT.index("fish"),
                      s=COURSE_TEXT.index("fish") - 8, unit=0),
            params=("s",))
