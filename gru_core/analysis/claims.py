"""Every sentence that explains a number, returned with the numbers it rests on.

A view shows `claim.text`; a test checks `claim.evidence` against the trace and the thresholds
below, which are defined here once: a unit *holds* over a span when its retention ∏z (the share
of its old value that reaches t along the direct path) is above HOLDS; it was *rewritten* when
that share is below REWRITTEN; a gate value is *saturated* below LOW or above HIGH and *grey*
in between; "mostly" means more than MOSTLY (half); a held unit's activation is *frozen* when it
stayed within FROZEN of its value at the span's start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ..core import Trace
from .memory import holders, retention_curve
from .notation import SYMBOLS, count_of, fmt, fmt_e

HOLDS, REWRITTEN = 0.5, 0.01  # retention: "kept more than half" / "kept less than 1%"
LOW, HIGH = 0.1, 0.9  # a gate value below LOW or above HIGH is saturated; between, grey
MOSTLY = 0.5  # "mostly" = more than half
FROZEN = 0.05  # a held unit whose activation moved less than this over the span is frozen
LONG_HOLD = 10  # steps: a direct path that keeps more than half this long is the gate's part
DISTANCES = (10, 50, 100, 200, 400)  # where the gradient view reads its curves
LOOKBACK = 2000  # steps: how far back a hold is traced (bounded work on any text)


@dataclass(frozen=True)
class Claim:
    kind: str  # what is claimed, e.g. "unit holds", "mostly saturated"
    text: str  # the sentence, in the page's notation
    evidence: dict = field(default_factory=dict)  # the numbers it rests on


def state(retention: float) -> str:
    """'holds', 'rewritten' or 'partly kept': the one classification every label uses."""
    return "holds" if retention > HOLDS else "rewritten" if retention < REWRITTEN else "partly kept"


# ---- saturation ------------------------------------------------------------------------------

def saturation_claim(symbol: str, f: dict[str, float]) -> Claim:
    """"Do the gates go to 0/1 or stay grey?" from the shares below LOW, between, above HIGH."""
    near = f["below"] + f["above"]
    verdict = ("mostly saturated" if near > MOSTLY else
               "mostly grey" if f["between"] > MOSTLY else "half saturated, half grey")
    share = {"mostly saturated": f"{near:.0%} of values near 0 or 1",
             "mostly grey": f"{f['between']:.0%} of values grey"}.get(verdict, f"{near:.0%} "
                                                                         "near 0 or 1")
    text = (f"{symbol}: {f['below']:.0%} of values are below {LOW}, {f['above']:.0%} above "
            f"{HIGH}, {f['between']:.0%} in between (grey): {verdict} ({share}).")
    return Claim(verdict, text, {**f, "saturated": near})


# ---- is the state frozen? --------------------------------------------------------------------

def hold_start(trace: Trace, t: int, unit: int, layer: int = 0) -> int:
    """The earliest s with retention(s → t) of `unit` above HOLDS; t when it does not hold at t
    (retention only falls as s moves back, so the steps it holds over are one span)."""
    since = max(0, t - LOOKBACK)
    curve = retention_curve(trace, t, layer, since)[:, unit]  # row s − since: ∏ z_{s+1..t}
    return since + int((curve > HOLDS).nonzero()[0])  # row t − since is 1: always found


def default_span_start(trace: Trace, t: int, unit: int, layer: int = 0, fallback: int = 20
                       ) -> int:
    """Where "is the state frozen?" starts by default: where the unit began holding, or
    `fallback` steps back when it does not hold at t."""
    s = hold_start(trace, t, unit, layer)
    return s if s < t else max(0, t - fallback)


def memory_claims(trace: Trace, s: int, t: int, unit: int, layer: int = 0,
                  notation: str = "pytorch", tokens: list[str] | None = None,
                  quote: Callable[[str], str] = repr) -> list[Claim]:
    """The selected unit first (did it hold from s to t, what did it keep, is its activation
    frozen), then the other units over the same span. quote: how a token is written in a
    sentence (the app passes one that Markdown leaves inert)."""
    sym = SYMBOLS[notation]
    df = holders(trace, s, t, layer)
    row = df[df.unit == unit].iloc[0]
    others = df[df.unit != unit]
    h = trace.gate("h", layer)[s : t + 1, unit].double()
    moved = float((h - h[0]).abs().max())
    rewritten = int((others.retention < REWRITTEN).sum())
    held_too = int((others.retention > HOLDS).sum())
    span = t - s
    at = (lambda k: f" (reading {quote(tokens[k])})") if tokens else (lambda k: "")  # noqa: E731
    ev = dict(unit=unit, s=s, t=t, retention=float(row.retention), h_s=float(row.h_s),
              h_t=float(row.h_t), moved=moved, rewritten=rewritten, held_too=held_too,
              others=len(others))
    claims = []
    if row.retention > HOLDS:
        claims.append(Claim("unit holds", (
            f"Unit {unit} has held since step {s}{at(s)}: over {count_of(span, 'step')} it kept "
            f"{row.retention:.1%} of its value along the direct path (∏{sym['z']} = "
            f"{fmt(row.retention, 3)}), {sym['h_s']} = {fmt(row.h_s)} → {sym['h_t']} = "
            f"{fmt(row.h_t)}."), ev))
        a = sym["a"]
        if moved < FROZEN:
            same = ("a⟨t⟩ = c⟨t⟩" if notation == "course"
                    else "h is both its memory and its output: the course's a⟨t⟩ = c⟨t⟩")
            claims.append(Claim("activation frozen", (
                f"In a GRU the activation is the state ({same}), so this unit's activation "
                f"{a} is frozen over the span too: it stayed within {fmt(moved, 3)} of its "
                f"value at step {s}."), ev))
        else:
            claims.append(Claim("activation moved", (
                f"Its activation {a} is not frozen, though: it moved by up to {fmt(moved, 3)} "
                "over the span, fed back in through the candidate."), ev))
    else:
        holding = _holding_units(trace, t, layer, exclude=unit)
        names = ", ".join(f"unit {u} (since step {since}, kept {share(r)})"
                          for u, since, r in holding[:3])
        ev.update(holding=[u for u, _, _ in holding])
        claims.append(Claim("unit does not hold", (
            f"Unit {unit} does not hold at t = {t}: it kept {share(row.retention)} of its "
            f"value from step {s}, less than half."
            + (f" Units that hold at t: {names}." if holding else
               " No unit holds at t: every unit kept less than half even from the step before.")),
            ev))
    claims.append(Claim("others move", (
        f"Meanwhile {rewritten} of the other {len(others)} units were rewritten (kept less than "
        f"{REWRITTEN:.0%}) and {held_too} also held (more than {HOLDS:.0%}): the gates are "
        "vectors, so some units hold while the others move"
        + (", and the state as a whole is not frozen." if rewritten else ".")), ev))
    return claims


def share(r: float) -> str:
    """A retention as a share: 99.6%, 0.3%, or 2.1e−05 when it rounds to nothing."""
    return f"{r:.1%}" if r >= 0.001 else fmt_e(r)


def _holding_units(trace: Trace, t: int, layer: int, exclude: int) -> list[tuple[int, int, float]]:
    """(unit, since, retention) of the units that hold at t, the longest-held first."""
    if t == 0:
        return []
    since = max(0, t - LOOKBACK)
    curve = retention_curve(trace, t, layer, since)  # (t − since + 1, H)
    out = []
    for u in (curve[-2] > HOLDS).nonzero()[:, 0].tolist():  # z_t > HOLDS: holds at t
        if u != exclude:
            start = int((curve[:, u] > HOLDS).nonzero()[0])
            out.append((u, since + start, float(curve[start, u])))
    return sorted(out, key=lambda x: (x[1], -x[2]))


def span_counts(table: pd.DataFrame) -> tuple[int, int]:
    """How many units of a holders() table held (> HOLDS), how many were rewritten."""
    return int((table.retention > HOLDS).sum()), int((table.retention < REWRITTEN).sum())


# ---- vanishing gradients ---------------------------------------------------------------------

def gradient_claims(norms: list[float], z_max: list[float], rnn: list[float] | None = None,
                    z_name: str = "z", rnn_name: str = "the plain RNN") -> list[Claim]:
    """What the curves show. Every list runs from s = since to s = t: the last entry is
    distance 0. A comparison with the plain RNN is made only when its curve is given."""
    span = len(norms) - 1
    far = [d for d in DISTANCES if d <= span] or [span]
    at = lambda xs, d: xs[span - d]  # noqa: E731  the value d steps back
    listed = lambda xs: ", ".join(f"{fmt_e(at(xs, d))} at {d}" for d in far)  # noqa: E731
    claims = [Claim("jacobian", (
        f"Over {span} steps back from t, the GRU's ‖∂h_t/∂h_s‖ goes from {fmt(norms[-1], 2)} "
        f"(s = t) to {fmt_e(norms[0], 2)} ({listed(norms)} steps back)."),
        dict(first=norms[-1], last=norms[0], at={d: at(norms, d) for d in far}))]
    if rnn is not None:
        ahead = sum(at(norms, d) > at(rnn, d) for d in far)
        if len(far) == 1:
            verdict = (f"{'more' if ahead else 'less'} than the plain RNN at {far[0]} steps "
                       "back")
        else:
            verdict = (f"more at {ahead} of these {len(far)} distances: " + (
                "more than the plain RNN at most of them" if ahead > len(far) / 2 else
                "less than the plain RNN at most of them" if ahead < len(far) / 2 else
                "as often more as less"))
        claims.append(Claim("rnn comparison", (
            f"{rnn_name[0].upper() + rnn_name[1:]}, trained on the same data and read over the "
            f"same text: {listed(rnn)} steps back. The GRU passes on {verdict}."),
            dict(ahead=ahead, distances=len(far), gru={d: at(norms, d) for d in far},
                 rnn={d: at(rnn, d) for d in far})))
    hold = max((d for d in range(span + 1) if at(z_max, d) > HOLDS), default=0)
    claims.append(Claim("direct path", (
        f"Through ∏{z_name} alone, the direct path h_s → h_t, the best-holding unit keeps more "
        f"than half of its value for up to {hold} steps back, and {fmt_e(z_max[0])} of it over "
        f"all {span}."), dict(hold=hold, span=span, z_max_far=z_max[0])))
    shrinks = norms[0] < norms[-1]
    if hold >= min(LONG_HOLD, span):
        claims.append(Claim("gate keeps a path open", (
            f"That is the update gate's part: where {z_name} stays near 1, a unit's h and its "
            f"gradient cross those {hold} steps almost unchanged"
            + (", even while the Jacobian over all paths shrinks." if shrinks else ".")),
            dict(hold=hold, shrinks=shrinks)))
    else:
        claims.append(Claim("no long hold", (
            f"Here no unit keeps more than half of its value beyond {hold} steps back: "
            f"{z_name} is not near 1 for long in a row, so the direct path fades too. The gate "
            f"can keep a path open ({z_name} ≈ 1 is a factor ≈ 1 per step), but only where the "
            "trained model uses it."), dict(hold=hold)))
    return claims


def text(claims: list[Claim]) -> str:
    return " ".join(c.text for c in claims)


# ---- the reset gate --------------------------------------------------------------------------

def reset_claim(cf, t: int, token: str, sym: dict[str, str],
                quote: Callable[[str], str] = repr) -> Claim:
    """What removing the reset gate (r = 1) at step t would change in the candidate."""
    change = cf.change
    biggest, mean = float(change.max()), float(change.mean())
    unit = int(change.argmax())
    return Claim("reset changes the candidate", (
        f"At step t = {t} (reading {quote(token)}), removing the reset gate ({sym['r']} = 1) "
        f"would move the candidate {sym['n']} by up to **{fmt(biggest, 3)}** (unit {unit}; "
        f"mean over units {fmt(mean, 3)}). The reset gate decides how much of the old state "
        "enters the candidate."), dict(max=biggest, mean=mean, unit=unit))
