"""Every sentence that explains a number, returned with the numbers it rests on.

A view shows `claim.text`, the first claim of each view answering its question in one sentence;
a test checks `claim.evidence` against the trace and the thresholds below, which are defined
here once and drawn by the charts as they are used here:

- a unit *held* over a span s..t when its z was above HIGH (near 1) at every step s+1..t and it
  kept more than HOLDS of its value along the direct path (retention ∏z); it was *rewritten*
  when it kept less than REWRITTEN;
- a gate value is *saturated* below LOW or above HIGH and *grey* in between; "mostly" means
  more than MOSTLY (two thirds), so a 54/46 split is neither;
- a held unit's activation is *frozen* when it stayed within FROZEN of its value at the span's
  start, over at least FROZEN_SPAN steps (over fewer the view says the span is too short).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch

from ..core import Trace
from .memory import holders, retention_curve
from .notation import SYMBOLS, count_of, fmt, fmt_e, fmt_near, pct

HOLDS, REWRITTEN = 0.5, 0.01  # retention: "kept more than half" / "kept less than 1%"
LOW, HIGH = 0.1, 0.9  # a gate value below LOW or above HIGH is saturated; between, grey
MOSTLY = 2 / 3  # "mostly" = more than two thirds: a real majority
FROZEN = 0.05  # a held unit whose activation moved less than this over the span is frozen
FROZEN_SPAN = 3  # steps: over fewer, "frozen" says nothing (every unit moves little in one step)
LONG_HOLD = 10  # steps: a direct path that keeps more than half this long is the gate's part
DISTANCES = (10, 50, 100, 200, 400)  # where the gradient view reads its curves
LOOKBACK = 2000  # steps: how far back a hold is traced (bounded work on any text)
SHOWN_HOLDERS = 3  # the other units that held, drawn orange on the memory view


@dataclass(frozen=True)
class Claim:
    kind: str  # what is claimed, e.g. "unit holds", "mostly saturated"
    text: str  # the sentence, in the page's notation
    evidence: dict = field(default_factory=dict)  # the numbers it rests on


def held(retention: float, min_z: float) -> bool:
    """The one rule for "held" over a span: z above HIGH at every step, more than half kept."""
    return bool(min_z > HIGH and retention > HOLDS)


def state(retention: float, min_z: float) -> str:
    """'held', 'rewritten' or 'partly kept': the one classification every label uses."""
    return ("held" if held(retention, min_z) else "rewritten" if retention < REWRITTEN
            else "partly kept")


# ---- saturation ------------------------------------------------------------------------------

def shares(parts: list[float], digits: int = 0, total: float = 1.0) -> list[str]:
    """Shares stated together, rounded so that they add up to `total` (100%) as printed
    (largest remainder: the parts that lost most to rounding down get the leftover units)."""
    unit = 10.0 ** -digits
    scaled = [p * 100 / unit for p in parts]
    floor = [int(x) for x in scaled]
    left = round(total * 100 / unit) - sum(floor)
    for i in sorted(range(len(parts)), key=lambda i: floor[i] - scaled[i])[:max(left, 0)]:
        floor[i] += 1
    return [f"{f * unit:.{digits}f}%" for f in floor]


def printed_shares(f: dict[str, float]) -> tuple[str, str, str, str]:
    """below, above, between and "near 0 or 1" as printed together: near and between add up
    to 100%, below and above to near, each within a printed unit of its value."""
    near = f["below"] + f["above"]
    digits = 1 if min(abs(near - MOSTLY), abs(f["between"] - MOSTLY)) < 0.01 else 0
    near_, between = shares([near, f["between"]], digits)
    below, above = shares([f["below"], f["above"]], digits, float(near_[:-1]) / 100)
    return below, above, between, near_


def saturation_claim(symbol: str, f: dict[str, float]) -> Claim:
    """"Do the gates go to 0/1 or stay grey?" from the shares below LOW, between, above HIGH:
    the three add up to 100% as printed, and "near 0 or 1" is the sum of the first two as
    printed. A tenth of a percent where a whole number would land on the other side of
    MOSTLY than the share itself."""
    near = f["below"] + f["above"]
    verdict = ("mostly saturated" if near > MOSTLY else "mostly grey" if f["between"] > MOSTLY
               else "neither mostly saturated nor mostly grey")
    below, above, between, near_ = printed_shares(f)
    share = {"mostly saturated": f"{near_} of values near 0 or 1",
             "mostly grey": f"{between} of values grey"}.get(
        verdict, f"{near_} near 0 or 1, {between} grey; “mostly” means more "
                 "than two thirds")
    text = (f"{symbol}: {below} of values are below {LOW}, {above} above "
            f"{HIGH}, {between} in between (grey): {verdict} ({share}).")
    return Claim(verdict, text, {**f, "saturated": near})


def exact_claim(symbol: str, counts: dict) -> Claim:
    """The question's own word: how many values are exactly 0 or exactly 1, as stored."""
    zeros, ones, total, dtype = counts["zeros"], counts["ones"], counts["total"], counts["dtype"]
    text = (f"Exactly 0 or 1? In {dtype}, " + (
        f"none of the {total:,} values of {symbol} is exactly 0 or exactly 1: a sigmoid only "
        "approaches them." if zeros + ones == 0 else
        f"{zeros:,} of the {total:,} values of {symbol} are exactly 0 and {ones:,} exactly 1: "
        f"a sigmoid never reaches 0 or 1, but {dtype} stores a value that close to them as "
        "0 or 1."))
    return Claim("exact", text, dict(counts))


def saturation_answer(gates: list[tuple[str, dict[str, float], dict]], where: str = ""
                      ) -> Claim:
    """The view's first sentence: per gate (symbol, fractions, exact counts); `where` names
    the layer of a model with several ("in layer 1")."""
    verdicts = [(sym, saturation_claim(sym, f).kind) for sym, f, _ in gates]
    said = {"mostly saturated": "mostly goes to 0 or 1", "mostly grey": "mostly stays grey"}
    plural = {"mostly saturated": "mostly go to 0 or 1", "mostly grey": "mostly stay grey"}
    if len(verdicts) > 1 and len({v for _, v in verdicts}) == 1 and verdicts[0][1] in said:
        lead = f"{' and '.join(s for s, _ in verdicts)} {plural[verdicts[0][1]]}"
    else:
        lead = " and ".join(f"{s} {said.get(v, 'is neither mostly saturated nor mostly grey')}"
                            for s, v in verdicts)
    near = [f"{printed_shares(f)[3]} of {s}'s values" for s, f, _ in gates]
    exact = sum(c["zeros"] + c["ones"] for _, _, c in gates)
    total = sum(c["total"] for _, _, c in gates)
    dtype = gates[0][2]["dtype"]
    place = f"On this text {where}" if where else "On this text"
    text = (f"{place} {lead}: near 0 or 1 (below {LOW} or above {HIGH}) are "
            f"{' and '.join(near)}, and in {dtype} "
            + (f"none of their {total:,} values is exactly 0 or 1." if exact == 0 else
               f"{exact:,} of their {total:,} values are exactly 0 or 1."))
    return Claim("answer", text, dict(verdicts=dict(verdicts), exact=exact, total=total))


# ---- is the state frozen? --------------------------------------------------------------------

def hold_starts(trace: Trace, t: int, layer: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(H,) each unit's earliest s such that it held over s..t (z > HIGH at every step after
    s, more than HOLDS kept), t when it does not hold even over the step t; and (H,) its
    retention from there. Both conditions only fail more as s moves back, so the steps a
    unit held over are one span."""
    since = max(0, t - LOOKBACK)
    curve = retention_curve(trace, t, layer, since)  # row s − since: ∏ z_{s+1..t}
    z = trace.gate("z", layer, 0)[since + 1 : t + 1]  # row k: z_{since+k+1}
    lowest = torch.cat([z.flip(0).cummin(0).values.flip(0), torch.ones_like(z[:1])])
    ok = (curve > HOLDS) & (lowest > HIGH)
    ok[-1] = True  # s = t: nothing has happened yet
    first = ok.to(torch.int8).argmax(0)  # the first True of each column
    return since + first, curve.gather(0, first[None])[0]


def hold_start(trace: Trace, t: int, unit: int, layer: int = 0) -> int:
    """The earliest s such that `unit` held over s..t; t when it does not hold at t."""
    return int(hold_starts(trace, t, layer)[0][unit])


def default_span_start(trace: Trace, t: int, unit: int, layer: int = 0, fallback: int = 20
                       ) -> int:
    """Where "is the state frozen?" starts by default: where the unit's latest hold up to t
    began (its hold at t, or the one a step that does not hold broke, so that the span shows
    the hold and the step that ended it), or `fallback` steps back when it never held in the
    last LOOKBACK steps."""
    s = hold_start(trace, t, unit, layer)
    if s < t:
        return s
    since = max(0, t - LOOKBACK)
    L = _hold_lengths(trace, unit, layer, t + 1)[since:]
    ends = torch.nonzero(L > 0).flatten()
    if len(ends) == 0:
        return max(0, t - fallback)
    end = int(ends[-1])
    return since + end - int(L[end])


def memory_claims(trace: Trace, s: int, t: int, unit: int, layer: int = 0,
                  notation: str = "pytorch", tokens: list[str] | None = None,
                  quote: Callable[[str], str] = repr) -> list[Claim]:
    """The answer first (one sentence), then the selected unit (did it hold from s to t, what
    did it keep, is its activation frozen), then the other units over the same span. quote:
    how a token is written in a sentence (the app passes one that Markdown leaves inert)."""
    sym = SYMBOLS[notation]
    z_, a, n_ = sym["z"], sym["a"], "Γu" if notation == "course" else "1 − z"
    df = holders(trace, s, t, layer)
    row = df[df.unit == unit].iloc[0]
    others = df[df.unit != unit]
    is_held = held(row.retention, row.min_z)
    h = trace.gate("h", layer)[s : t + 1, unit].double()
    z = trace.gate("z", layer)[s + 1 : t + 1, unit].double()
    moved = float((h - h[0]).abs().max())
    steps = (h[1:] - h[:-1]).abs()
    k = int(steps.argmax())  # the largest move in one step: into step s + 1 + k
    big, k_big = float(steps[k]), s + 1 + k
    after = float((h[k + 1 :] - h[k + 1]).abs().max())
    before = float((h[: k + 1] - h[0]).abs().max())  # steps s..k_big − 1
    one_step = (t - s) >= FROZEN_SPAN and big >= FROZEN and before < FROZEN and after < FROZEN
    z_big = float(trace.gate("z", layer)[k_big, unit])
    zb = z[: k_big - s - 1]  # steps s+1..k_big − 1: did it hold up to the big move?
    held_before = k_big - 1 > s and held(float(zb.prod()), float(zb.min()))
    k_low, z_low = s + 1 + int(z.argmin()), float(z.min())
    others_held = int(sum(held(r, m) for r, m in zip(others.retention, others.min_z,
                                                      strict=True)))
    rewritten = int((others.retention < REWRITTEN).sum())
    not_held, n = len(others) - others_held, len(others)
    of = lambda k: f"{'none' if k == 0 else k} of the other {n} units"  # noqa: E731
    others_not = (f"none of the other {n} units held" if not_held == n else
                  f"{of(not_held)} did not hold")
    span = t - s
    since = hold_start(trace, t, unit, layer)
    at = (lambda k: f" (reading {quote(tokens[k])})") if tokens else (lambda k: "")  # noqa: E731
    ev = dict(unit=unit, s=s, t=t, retention=float(row.retention), min_z=float(row.min_z),
              h_s=float(row.h_s), h_t=float(row.h_t), moved=moved, biggest=big, k_big=k_big,
              after=after, k_low=k_low, z_low=z_low, rewritten=rewritten,
              held_too=others_held, others=n, held=is_held, since=since, before=before,
              one_step=one_step, held_before=held_before, z_big=z_big)
    rule = f"{z_} above {HIGH} at every step after step {s}"  # z_s made h_s: not in the span
    steps_ = count_of(span, "step")
    frozen = is_held and moved < FROZEN and span >= FROZEN_SPAN
    if frozen:
        lead = (f"Only where the gate holds: unit {unit} held from step {s} to step {t} "
                f"({steps_}; {rule}) and its activation {a} stayed within "
                f"{fmt_near(moved, 3)} of its value (frozen: within {FROZEN}), "
                + (f"while {others_not}, so the state as a whole is not "
                   "frozen." if not_held else
                   f"and so did all {n} other units: over these steps the whole state is "
                   "frozen."))
    elif is_held and span < FROZEN_SPAN:
        lead = _short_hold(trace, s, t, unit, layer, ev, z_, a, moved)
    elif is_held:
        lead = (f"Not even for a unit that holds: unit {unit} held from step {s} to step {t} "
                f"({steps_}; {rule}), yet its activation {a} moved by up to "
                f"{fmt_near(moved, 3)} (frozen would be within {FROZEN}), since a held unit "
                f"still takes a share {n_} of its "
                f"candidate at each step; {others_not}.")
    elif one_step and held_before:
        lead = (f"Not over this whole span: unit {unit} held from step {s} to step "
                f"{k_big - 1} ({count_of(k_big - 1 - s, 'step')}; {rule}) and its activation "
                f"{a} stayed within {fmt_near(before, 3)} of its value there (frozen: within "
                f"{FROZEN}), but at step {k_big}{at(k_big)} its {z_} is {fmt_near(z_big, 3)} and "
                f"{a} moved by {fmt_near(big, 3)} in that one step, so it did not hold from "
                f"step {s} to step {t}; {of(others_held)} held over these steps.")
    elif one_step:
        lead = (f"No, not unit {unit} over this span: {_why_not(ev, z_)}, so it did not hold "
                f"from step {s} to step {t}; its activation {a} stayed within "
                f"{fmt_near(before, 3)} of its value up to step {k_big - 1} and moved by "
                f"{fmt_near(big, 3)} in one step, at step {k_big}{at(k_big)}; "
                f"{of(others_held)} held over these steps.")
    else:
        lead = (f"No, not unit {unit} over this span: {_why_not(ev, z_)}, so it did not hold "
                f"from step {s} to step {t}, and its activation {a} moved by up to "
                f"{fmt_near(moved, 3)}; {of(others_held)} held over these steps.")
    claims = [Claim("answer", lead, ev)]
    if is_held:
        claims.append(Claim("unit holds", (
            f"Unit {unit} has held since step {s}{at(s)}: over {count_of(span, 'step')} its "
            f"{z_} stayed above {HIGH} (lowest {fmt_near(z_low, 3)}, at step {k_low}) and it kept "
            f"{share(row.retention)} of its value along the direct path ({sym['prod_z']} = "
            f"{fmt_near(row.retention, 3)}), {sym['h_s']} = {fmt(row.h_s)} → {sym['h_t']} = "
            f"{fmt(row.h_t)}."), ev))
        if frozen:
            same = ("a⟨t⟩ = c⟨t⟩" if notation == "course"
                    else "h is both its memory and its output: the course's a⟨t⟩ = c⟨t⟩")
            claims.append(Claim("activation frozen", (
                f"In a GRU the activation is the state ({same}), so this unit's activation "
                f"{a} is frozen over the span too: it stayed within {fmt_near(moved, 3)} of its "
                f"value at step {s}."), ev))
        else:
            claims.append(Claim("activation moved", (
                (f"Its activation {a} is not frozen, though: it " if span >= FROZEN_SPAN else
                 f"Its activation {a} ") + f"moved by up to {fmt_near(moved, 3)} "
                f"from its value at step {s}. Its largest change in one step, {fmt_near(big, 3)}, "
                f"came at step {k_big}{at(k_big)}"
                + (f"; from there to step {t} it stayed within {fmt_near(after, 3)}." if
                   k_big < t else ".")), ev))
    else:
        holding = _holding_units(trace, t, layer, exclude=unit)
        names = ", ".join(f"unit {u} (since step {since_u}, kept {share(r)})"
                          for u, since_u, r in holding[:3])
        ev.update(holding=[u for u, _, _ in holding])
        now = (f"Unit {unit} has held only since step {since}{at(since)}." if since < t else
               f"At step {t} itself unit {unit}'s {z_} is "
               f"{fmt_near(float(trace.gate('z', layer)[t, unit]), 3)}, not above {HIGH}: it "
               "does "
               "not hold even over one step.")
        claims.append(Claim("unit does not hold", (
            now + (f" Other units that hold at t = {t} ({z_} above {HIGH} at step {t}): "
               f"{count_of(len(holding), 'unit')}, the longest-held {names}." if holding else
               f" No other unit holds at t = {t}: none has {z_} above {HIGH} at step {t}.")),
            ev))
    claims.append(Claim("others move", (
        f"Over the same steps {of(others_held)} held ({rule}, more than "
        f"{HOLDS:.0%} kept) and {rewritten} were rewritten (kept less than {REWRITTEN:.0%}): "
        "the gates are vectors, so some units hold while the others move."), ev))
    return claims


def _short_hold(trace: Trace, s: int, t: int, unit: int, layer: int, ev: dict, z_: str,
                a: str, moved: float) -> str:
    """The answer when the selected unit's hold is shorter than FROZEN_SPAN: on the unit
    that has held longest up to t (ev["longest"] names it for the view's button), or that no
    unit held that long."""
    mine = (f"unit {unit}, selected, has held only from step {s} ({count_of(t - s, 'step')}, "
            f"its {a} moved by up to {fmt_near(moved, 3)}), too short to tell")
    holding = _holding_units(trace, t, layer, exclude=unit)
    if holding and t - holding[0][1] >= FROZEN_SPAN:
        u, since, _ = holding[0]
        end, who = t, f"the unit that has held longest up to t = {t}"
    else:  # no long hold at t: the longest anywhere up to t, a place where the view answers
        lengths = hold_lengths(trace, layer, stop=t + 1)[max(0, t - LOOKBACK) :]
        if int(lengths.max()) < FROZEN_SPAN:
            ev.update(longest=None)
            return (f"Up to t = {t} no unit has held for {FROZEN_SPAN} steps or more ({z_} above "
                    f"{HIGH} at every step, more than {HOLDS:.0%} kept), so this text cannot "
                    f"tell yet: {mine}.")
        end, u = divmod(int(lengths.argmax()), lengths.shape[1])
        end += max(0, t - LOOKBACK)
        since = end - int(lengths[end - max(0, t - LOOKBACK), u])
        who = (f"the unit with the longest hold in this text up to t = {t} (at t itself no "
               f"unit has held {FROZEN_SPAN} steps or more)")
    h = trace.gate("h", layer)[since : end + 1, u].double()
    moved_u = float((h - h[0]).abs().max())
    ev.update(longest=dict(unit=u, since=since, t=end, moved=moved_u))
    rule = f"{count_of(end - since, 'step')}; {z_} above {HIGH} at every step after step {since}"
    go = f"Choose unit {u} to see it." if end == t else f"Go to step {end}, unit {u} to see it."
    if moved_u < FROZEN:
        return (f"Yes, for a unit while it holds: {who}, unit {u}, held from step {since} to "
                f"step {end} ({rule}) and its activation {a} stayed within "
                f"{fmt_near(moved_u, 3)} of its value (frozen: within {FROZEN}); {mine}. {go}")
    return (f"Not even for {who}: unit {u} held from step {since} to step {end} ({rule}), "
            f"yet its activation {a} moved by up to "
            f"{fmt_near(moved_u, 3)} (frozen would be within {FROZEN}); {mine}. {go}")


def _why_not(ev: dict, z_: str) -> str:
    if ev["z_low"] <= HIGH:
        return (f"its {z_} fell to {fmt_near(ev['z_low'], 3)} at step {ev['k_low']}, not above "
                f"{HIGH}")
    return (f"its {z_} stayed above {HIGH}, but over these steps it kept only "
            f"{share(ev['retention'])} of its value, not more than half")


def span_picture(df: pd.DataFrame, unit: int, sym: dict[str, str]) -> Claim:
    """What the memory view draws for a holders() table: the other units that held best
    (orange, at most SHOWN_HOLDERS) and the two that kept least, and the captions that name
    exactly those."""
    others = df[df.unit != unit]
    held_units = [int(u) for u, r, m in zip(others.unit, others.retention, others.min_z,
                                            strict=True) if held(r, m)]
    orange = held_units[:SHOWN_HOLDERS]
    low = [int(u) for u in others.unit.iloc[::-1].iloc[:2] if int(u) not in orange]  # least first
    orange_text = ((f"orange: the {count_of(len(orange), 'other unit')} that held best (of "
                    f"{len(held_units)} that held)" if len(orange) < len(held_units) else
                    f"orange: the {count_of(len(orange), 'other unit')} that held") if orange else
                   "no other unit held over this span, so none is orange")
    caption = (f"Retention = {sym['prod_z']} over steps s+1..t: the share of {sym['h_s']} "
               f"that reaches {sym['h_t']} without passing through the candidate. Dashed "
               f"lines at {HOLDS:.0%} and {REWRITTEN:.0%}: a unit held when it kept more than "
               f"{HOLDS:.0%} with {sym['z']} above {HIGH} at every step, and was rewritten when "
               f"it kept less than {REWRITTEN:.0%}. Black: unit {unit}; {orange_text}.")
    title = (f"{sym['a=h']} over the span: unit {unit}"
             + (f", {count_of(len(orange), 'unit')} that held" if orange else "")
             + (f", the {count_of(len(low), 'unit')} that kept least" if low else ""))
    return Claim("span picture", caption, dict(orange=orange, low=low, held=len(held_units),
                                               title=title))


def share(r: float) -> str:
    """A retention as a share: 99.6%, 99.96% (never 100.0% of less), 0.3%, or 2.1e−05 when
    it rounds to nothing."""
    if r == 0:  # ∏z below the smallest float: a sigmoid's z is never 0
        return "less than 1e−300"
    return pct(r) if r >= 0.001 else fmt_e(r)


def _holding_units(trace: Trace, t: int, layer: int, exclude: int) -> list[tuple[int, int, float]]:
    """(unit, since, retention) of the units that hold at t (over the step t: z_t > HIGH),
    the longest-held first."""
    if t == 0:
        return []
    starts, kept = hold_starts(trace, t, layer)
    out = [(u, int(starts[u]), float(kept[u])) for u in range(len(starts))
           if u != exclude and int(starts[u]) < t]
    return sorted(out, key=lambda x: (x[1], -x[2]))


def span_counts(table: pd.DataFrame) -> tuple[int, int]:
    """How many units of a holders() table held, how many were rewritten."""
    return (int(sum(held(r, m) for r, m in zip(table.retention, table.min_z, strict=True))),
            int((table.retention < REWRITTEN).sum()))


def first_step_claim(trace: Trace, unit: int, layer: int = 0, notation: str = "pytorch",
                     question: str = "memory") -> Claim:
    """What the span questions (question: "memory", is the state frozen?, or "gradients")
    say at t = 0, where there is no earlier step: how step 0 mixed the starting state with the
    candidate, and a step to ask at instead. Memory: where the unit's longest hold by the
    page's rule ends (the last step when it never holds); gradients: the last step, the one
    that looks back over the most steps."""
    sym = SYMBOLS[notation]
    z = float(trace.gate("z", layer)[0, unit])
    h_prev = float(trace.gate("h_prev", layer)[0, unit])
    n = float(trace.gate("n", layer)[0, unit])
    h = float(trace.gate("h", layer)[0, unit])
    zeros = not bool(trace.gate("h_prev", layer)[0].any())
    T = trace.gate("z", layer).shape[0]
    none = ("no earlier step to hold over" if question == "memory"
            else "no earlier step for a gradient to reach back to")
    start = ("the state before it is zero in every unit" if zeros
             else "the state before it is the one the text starts from")
    term = lambda v: f"({fmt(v, 3)})" if v < 0 else fmt(v, 3)  # noqa: E731
    text = (f"At t = 0 there is {none}: the GRU has read one token, and {start}. Unit {unit}'s "
            f"{sym['h']} = {sym['keep']} + {sym['new']} = {term(z)}·{term(h_prev)} + "
            f"{term(1 - z)}·{term(n)} = {fmt(h, 3)}. ")
    length, goto, go_unit = 0, T - 1, unit
    lengths = hold_lengths(trace, layer) if question == "memory" and T > 1 else None
    rule = (f"(the page's rule: {sym['z']} above {HIGH} at every step and more than "
            f"{HOLDS:.0%} kept)")
    if T == 1:
        text += "This text is one token long: type a longer one to see a span."
    elif lengths is not None and (length := int(lengths[:, unit].max())) >= FROZEN_SPAN:
        goto = int(lengths[:, unit].argmax())
        s = goto - length
        text += (f"Its longest hold in this text {rule} runs from step {s} to step "
                 f"{goto} ({count_of(length, 'step')}): step {goto} is a good t to ask at.")
    elif lengths is not None and int(lengths.max()) >= FROZEN_SPAN:
        mine = (f"Its longest hold in this text {rule} is {count_of(length, 'step')}, too "
                f"short to tell" if length else f"It holds nowhere in this text {rule}")
        best = int(lengths.argmax())  # flat index: step · H + unit
        goto, go_unit = divmod(best, lengths.shape[1])
        length = int(lengths[goto, go_unit])
        text += (f"{mine}; unit {go_unit} holds longest, from step {goto - length} to step "
                 f"{goto} ({count_of(length, 'step')}): step {goto} with unit {go_unit} is a "
                 "good place to ask.")
    elif lengths is not None:
        text += (f"No unit holds for {FROZEN_SPAN} steps or more anywhere in this text {rule}; "
                 f"the last step, step {goto}, looks back over the most steps.")
    else:
        text += f"The last step, step {goto}, looks back over the most steps."
    return Claim("first step", text, dict(z=z, h_prev=h_prev, n=n, h=h, zeros=zeros,
                                           run=length, goto=goto if T > 1 else None,
                                           unit=go_unit))


def _hold_lengths(trace: Trace, unit: int, layer: int = 0, stop: int | None = None
                  ) -> torch.Tensor:
    """(stop,) for each t before `stop`, how many steps back `unit` has held (t − hold_start)."""
    return hold_lengths(trace, layer, [unit], stop)[:, 0]


BLOCK = 32  # units at a time: a long text's float64 (T, units) steps stay a few MB each


def hold_lengths(trace: Trace, layer: int = 0, units: list[int] | None = None,
                 stop: int | None = None) -> torch.Tensor:
    """(stop, units) for each t before `stop` (all steps by default) and each unit (all by
    default), how many steps back the unit has held (t − hold_start), for every t at once: with
    D the running −Σ log z, a span s..t keeps more than HOLDS while D_t − D_s < −log HOLDS, and
    it needs z above HIGH at every step after s. BLOCK units at a time."""
    z_all = trace.gate("z", layer)  # (T, H)
    units = list(range(z_all.shape[1])) if units is None else units
    return torch.cat([_held_steps(z_all[:stop, units[i : i + BLOCK]].double())
                      for i in range(0, len(units), BLOCK)], 1)


def _held_steps(z: torch.Tensor) -> torch.Tensor:
    """hold_lengths for z (T, n) in float64."""
    D = torch.cumsum(-torch.log(z), 0).t().contiguous()  # (n, T), non-decreasing in t
    t = torch.arange(z.shape[0])
    kept_from = torch.searchsorted(D, D + torch.log(torch.tensor(HOLDS, dtype=D.dtype)),
                                   right=True).t()  # the first s with D_s > D_t + log HOLDS
    bad = torch.where(z <= HIGH, t[:, None], torch.full_like(kept_from, -1))
    last_bad = torch.cummax(bad, 0).values  # the last step up to t with z not above HIGH
    return (t[:, None] - torch.maximum(kept_from, last_bad)).clamp(min=0)


# ---- vanishing gradients ---------------------------------------------------------------------

def stretches(ds: list[int]) -> str:
    """Distances as the runs a chart shows: [11, 12, 13, 15] → "11–13 and 15"."""
    runs: list[list[int]] = []
    for d in ds:
        if runs and d == runs[-1][1] + 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    said = [f"{a}–{b}" if b > a else f"{a}" for a, b in runs]
    if len(said) > 4:  # a long list says less than its count
        return ", ".join(said[:3]) + f" and {len(said) - 3} other stretches"
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def apart(a: float, b: float, digits: int = 1) -> tuple[str, str]:
    """fmt_e of two values side by side, with more digits (up to 4) where they would read the
    same but are not: 1.45e+00 and 1.46e+00, never 1.5e+00 twice."""
    while digits < 4 and fmt_e(a, digits) == fmt_e(b, digits) and a != b:
        digits += 1
    return fmt_e(a, digits), fmt_e(b, digits)


def _compared(norms: list[float], rnn: list[float], rnn_name: str) -> tuple[str, dict]:
    """The GRU against the plain RNN at every distance the chart draws past the identity
    (1..span steps back): how many larger, and where."""
    span = len(norms) - 1
    larger = [d for d in range(1, span + 1) if norms[span - d] > rnn[span - d]]
    smaller = [d for d in range(1, span + 1) if norms[span - d] < rnn[span - d]]
    n = span
    every = f"at every distance from 1 to {span} steps back" if span > 1 else "1 step back"
    if len(smaller) == n:
        said = f"smaller than that of {rnn_name} {every}"
    elif len(larger) == n:
        said = f"larger than that of {rnn_name} {every}"
    else:
        big = len(larger) > len(smaller)
        most, rest = (larger, smaller) if big else (smaller, larger)
        said = (f"{'larger' if big else 'smaller'} than that of {rnn_name} at {len(most)} of "
                f"the {n} distances from 1 to {span} steps back"
                + (f" ({'smaller' if big else 'larger'} at {stretches(rest)})" if rest else ""))
    return said, dict(larger=larger, smaller=smaller, distances=n)


def _broken_hold(z: torch.Tensor, hold: int) -> dict | None:
    """Why the best direct path is no longer than `hold` steps, read off z (rows: steps
    since..t, one column per unit): the unit that kept more than HOLDS longest up to step t − 1,
    if its path was long and step t's own z cut it (then that one step is the reason)."""
    z = z.double()
    if len(z) < 3:
        return None
    before = z[1:-1].flip(0).cumprod(0)  # row d − 1: ∏ z over the d steps t−d..t−1
    kept = (before > HOLDS).to(torch.int64)
    longest = kept.cumprod(0).sum(0)  # per unit: steps back to t − 1 keeping more than HOLDS
    u = int(longest.argmax())
    d = int(longest[u])
    if d < LONG_HOLD or d <= hold:
        return None
    above = (z[:-1, u] > HIGH).flip(0).to(torch.int64).cumprod(0).sum()  # run ending at t − 1
    return dict(unit=u, before=d, run=int(above), z_t=float(z[-1, u]))


def gradient_claims(norms: list[float], z_max: list[float], rnn: list[float] | None = None,
                    notation: str = "pytorch", rnn_name: str = "the plain RNN",
                    z: torch.Tensor | None = None) -> list[Claim]:
    """The answer first, then what each panel shows. Every list runs from s = since to s = t:
    the last entry is distance 0, where ∂h_t/∂h_s is the identity (norm √H). A comparison with
    the plain RNN is made only when its curve is given, at every distance the chart draws.
    z: (span + 1, H) the update gate over the same steps, to say why a short direct path is
    short (a single step at t, or no long run of z near 1)."""
    sym = SYMBOLS[notation]
    z_, prod, hs, ht, jac = sym["z"], sym["prod_z"], sym["h_s"], sym["h_t"], sym["jacobian"]
    span = len(norms) - 1
    H = round(norms[-1] ** 2)  # ‖I‖ = √H
    far = [d for d in DISTANCES if d <= span] or [span]
    at = lambda xs, d: xs[span - d]  # noqa: E731  the value d steps back

    def listed(xs: list[float], other: list[float] | None = None) -> str:
        return ", ".join(f"{apart(at(xs, d), at(other, d))[0] if other else fmt_e(at(xs, d))}"
                         f" at {d}" for d in far)

    hold = max((d for d in range(span + 1) if at(z_max, d) > HOLDS), default=0)
    long = hold >= min(LONG_HOLD, span)
    shrinks = norms[0] < norms[-1]
    versus, cmp = _compared(norms, rnn, rnn_name) if rnn is not None else ("", {})
    ahead = len(cmp["larger"]) if rnn is not None else None
    broken = None if long or z is None else _broken_hold(z, hold)
    if long:
        lead = (f"By keeping a direct path open: where {z_} stays near 1, {hs} reaches {ht} "
                f"multiplied only by {prod}, and on this text the best unit keeps more than "
                f"half of its value that way for up to {hold} steps back")
    elif broken:
        b = broken
        cut = ("which alone lets less than half through" if b["z_t"] <= HOLDS else
               "which brings what gets through under half")
        run = (f"unit {b['unit']}'s {z_} stayed above {HIGH} for "
               f"{count_of(b['run'], 'step')} in a row before t, so" if b["run"] >= LONG_HOLD
               else f"for unit {b['unit']},")
        lead = (f"By keeping a direct path open where {z_} stays near 1: {run} more than half "
                f"of {hs} reached step t − 1 from up to {b['before']} steps back through {prod} "
                f"alone, but at t itself its {z_} is {fmt_near(b['z_t'], 3)}, {cut}, so on this "
                f"text no unit keeps more than half of its value that way beyond {hold} steps "
                "back")
    else:
        lead = (f"On this text it hardly does: along the direct path {hs} reaches {ht} "
                f"multiplied only by {prod}, but no unit keeps more than half of its value that "
                f"way beyond {hold} steps back ({z_} is not near 1 for long in a row)")
    if rnn is not None:
        lead += (f"; over all paths, this GRU's gradient is {versus}" if long or broken else
                 f"; over all paths its gradient is {versus}")
    lead += "."
    claims = [Claim("answer", lead, dict(hold=hold, span=span, long=long, ahead=ahead,
                                         broken=broken, **cmp))]
    claims.append(Claim("jacobian", (
        f"Top panel: over {span} steps back from t, the GRU's {jac} (every path) goes from "
        f"{fmt(norms[-1], 2)} at s = t, where ∂{ht}/∂{hs} is the identity and its norm is "
        f"√H = √{H}, to {fmt_e(norms[0], 2)} ({listed(norms, rnn)} steps back)."),
        dict(first=norms[-1], last=norms[0], H=H, at={d: at(norms, d) for d in far})))
    if rnn is not None:
        claims.append(Claim("rnn comparison", (
            f"{rnn_name[0].upper() + rnn_name[1:]}, trained on the same data and read over the "
            f"same text: {listed(rnn, norms)} steps back. Over all paths the GRU's gradient is "
            f"{versus}."),
            dict(ahead=ahead, **cmp, gru={d: at(norms, d) for d in far},
                 rnn={d: at(rnn, d) for d in far})))
    claims.append(Claim("direct path", (
        f"Bottom panel: through {prod} alone, the direct path {hs} → {ht}, the best unit keeps "
        f"more than half of its value (the dashed line) for up to {hold} steps back, and "
        f"{fmt_e(z_max[0])} of it over all {span}."), dict(hold=hold, span=span,
                                                          z_max_far=z_max[0])))
    if long:
        claims.append(Claim("gate keeps a path open", (
            f"That is the update gate's part: where {z_} stays near 1 each step multiplies by "
            f"nearly 1, so along that path more than half of {hs}, and of the gradient back to "
            f"it, gets through over {hold} steps"
            + (", even while the Jacobian over all paths shrinks." if shrinks else ".")),
            dict(hold=hold, shrinks=shrinks)))
    elif broken:
        claims.append(Claim("path cut at t", (
            f"That is the update gate's part, and its limit: where {z_} stays near 1 each step "
            f"multiplies by nearly 1, so the path to step t − 1 stayed open over "
            f"{broken['before']} steps, and one step with {z_} well below 1 closes it."),
            dict(hold=hold, shrinks=shrinks)))
    else:
        claims.append(Claim("no long hold", (
            f"The gate can keep a path open ({z_} ≈ 1 is a factor ≈ 1 per step), but only where "
            "the trained model uses it, and on this text it does not for long."),
            dict(hold=hold)))
    return claims


def text(claims: list[Claim]) -> str:
    return " ".join(c.text for c in claims)


# ---- the reset gate --------------------------------------------------------------------------

def _zero_state(cf, biggest: float, sym: dict[str, str]) -> str:
    """The end of the candidate's sentence: at a step whose old state is zero in every unit
    (a start from zeros) the reset has no old state to scale, only its bias, if any."""
    if not getattr(cf, "old_state_zero", False):
        return "."
    if biggest == 0:
        return f" (here {sym['h_prev']} is zero in every unit, so it has nothing to scale)."
    return (f" (here {sym['h_prev']} is zero in every unit, so what it scales is the old "
            f"state's bias alone, {sym['b_hn']}).")


def reset_claims(cf, t: int, token: str, sym: dict[str, str],
                 quote: Callable[[str], str] = repr, vocab: list[str] | None = None,
                 next_token: str | None = None, noun: str = "token") -> list[Claim]:
    """The answer (what the reset gate changed at step t: the candidate and, with a head, the
    prediction), then the candidate and the prediction each in a sentence. vocab: the tokens
    as the page shows them, in the head's order; next_token: the one that actually follows."""
    change = cf.change
    biggest, mean = float(change.max()), float(change.mean())
    unit = int(change.argmax())
    r, n = sym["r"], sym["n"]
    ev = dict(max=biggest, mean=mean, unit=unit)
    pred = ""
    if cf.probs is not None and vocab is not None:
        p, q = cf.probs.double(), cf.probs_no_reset.double()
        tv = float(0.5 * (p - q).abs().sum())
        top, top_q = int(p.argmax()), int(q.argmax())
        ev.update(tv=tv, top=top, top_no_reset=top_q, p_top=float(p[top]), q_top=float(q[top]))
        pred = (f" and moves the next-{noun} prediction by {tv:.1%} (total variation: the "
                "share of probability that moves to other tokens)")
    claims = [Claim("answer", (
        f"At step t = {t} (reading {quote(token)}), the reset gate changes the candidate {n} by "
        f"up to {fmt(biggest, 3)} (unit {unit}; {fmt(mean, 3)} on average over units) compared "
        f"with no reset ({r} = 1){pred}."), ev),
        Claim("reset changes the candidate", (
            f"The reset gate decides how much of the old state enters the candidate: below, "
            f"each unit's {n} as this model computes it and with {r} = 1 (no reset), for the "
            f"units where the two differ most" + _zero_state(cf, biggest, sym)),
            ev)]
    if pred:
        same = top == top_q
        text = (f"With {r} = 1 at this step, the most likely next {noun} "
                + (f"stays {quote(vocab[top])} ({ev['p_top']:.1%} → {ev['q_top']:.1%})" if same
                   else f"would be {quote(vocab[top_q])} ({float(q[top_q]):.1%}) instead of "
                   f"{quote(vocab[top])} ({ev['p_top']:.1%})"))
        if next_token is not None and next_token in vocab:
            k = vocab.index(next_token)
            ev.update(next=k, p_next=float(p[k]), q_next=float(q[k]))
            text += (f"; the {noun} that actually comes next, {quote(next_token)}, has "
                     f"{ev['p_next']:.1%} with this model's {r} and {ev['q_next']:.1%} with "
                     f"{r} = 1")
        claims.append(Claim("prediction", text + ".", ev))
    return claims


# ---- number units ----------------------------------------------------------------------------

def signed(v: float) -> str:
    """+0.123 / −0.123: one minus sign, as everywhere (fmt), with the plus of a difference."""
    s = fmt(v, 3)
    return s if s.startswith("−") or s == "0.000" else "+" + s


def number_claim(table: pd.DataFrame, pair: tuple[str, str], readers: bool, pairs: int,
                 sym: dict[str, str], quote: Callable[[str], str] = repr) -> Claim:
    """The number view's first line: the unit, ranked on held-out minimal pairs, and on which
    sentences the page shows it (the reader's own and its pair, or the course's pair because
    the reader's text is not one, with the unit over the reader's text)."""
    u, d, p = int(table.unit[0]), float(table.difference[0]), float(table.persistence[0])
    head = ("" if readers else
            "This view answers on minimal pairs, not on your text, which is not a sentence "
            "“The …, which …, w…”. ")
    a, b = (quote(s.split(",", 1)[0] + ", …") for s in pair)  # the subjects: one noun apart
    named = f"singular {a}, plural {b}"
    shown = (f"below, your sentence and its pair, the same but for the subject's number "
             f"({named})" if readers else f"below, the course's pair ({named}), then unit "
             f"{u} over your own text")
    return Claim("answer", (
        f"{head}Ranked on {pairs} held-out minimal pairs, unit **{u}** keeps the subject's "
        f"number across the clause: its {sym['h']} differs by {signed(d)} between plural and "
        f"singular (mean over the clause), with that sign and by more than 0.1 at {p:.0%} of "
        f"the clause's steps; {shown}."),
        dict(unit=u, difference=d, persistence=p, readers=readers))
