"""Every sentence against the numbers it rests on: each shipped model (and small random and
saturated GRUs), both notations, on texts made here (random, crafted, the course's sentence).

The numbers a claim is checked against are recomputed here with NumPy from the trace's gates
(which tests/exact/test_exact.py holds bit for bit to nn.GRU), not read back from the claim."""

import json
import random
import re

import numpy as np
import pandas as pd
import pytest
import torch

from dashboard.export import compared_in, comparison, course_latex, forum_post, pytorch_latex
from gru_core import (
    FROZEN,
    FROZEN_SPAN,
    HIGH,
    HOLDS,
    LONG_HOLD,
    LOW,
    REWRITTEN,
    SHOWN_HOLDERS,
    SYMBOLS,
    GRUConfig,
    TokenGRU,
    count_of,
    default_span_start,
    exact_claim,
    exact_counts,
    first_step_claim,
    fmt,
    fmt_num,
    fractions,
    gradient_claims,
    hold_start,
    hold_starts,
    holders,
    load_checkpoint,
    memory_claims,
    reset_claims,
    reset_counterfactual,
    saturation_answer,
    saturation_claim,
    save_checkpoint,
    span_picture,
    step_card,
    step_summary,
)

from ..conftest import CHECKPOINTS

COURSE = "The cats, which already ate the fish, were full."
SHIPPED = ["agreement", "agreement-words", "agreement-course", "shakespeare",
           "shakespeare-2layer"]
CHARS = sorted(set("abcdefghijklmnopqrstuvwxyz T,."))


def small(scale: float, tmp_path_factory, seed: int = 3):
    """A random (scale 1) or saturated (scale 20: gates within 1e-3 of 0 or 1) char GRU."""
    torch.manual_seed(seed)
    module = TokenGRU(GRUConfig(len(CHARS), 12))
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(scale)
    path = tmp_path_factory.mktemp("ck") / f"x{scale:g}.pt"
    save_checkpoint(path, module, CHARS, {})
    return load_checkpoint(path)


@pytest.fixture(scope="module", params=[*SHIPPED, "random", "saturated"])
def model(request, tmp_path_factory):
    if request.param == "random":
        return small(1.0, tmp_path_factory)
    if request.param == "saturated":
        return small(20.0, tmp_path_factory)
    if request.param == "agreement-course":  # a Keras file: the lecture's formula
        vocab = json.loads((CHECKPOINTS / "agreement-course.vocab.json").read_text())
        return load_checkpoint(CHECKPOINTS / "agreement-course.keras", vocab=vocab)
    return load_checkpoint(CHECKPOINTS / f"{request.param}.pt")


def texts(model) -> list[str]:
    """The course's sentence, a random text and a crafted one (one token over and over, then
    another: units settle, then must react), all in the model's vocabulary."""
    rng = random.Random(0)
    tokens = [t for t in model.vocab.tokens if t.strip()]
    sep = " " if model.vocab.words else ""
    course = model.vocab.without_unknown(COURSE)
    rand = sep.join(rng.choice(tokens) for _ in range(70))
    a, b = tokens[0], tokens[-1]
    crafted = sep.join([a] * 40 + [b] * 5 + [a] * 20)
    return [course, rand, crafted]


def retention(z: np.ndarray, s: int, t: int) -> np.ndarray:
    return np.prod(z[s + 1 : t + 1], axis=0)


def held_np(z: np.ndarray, s: int, t: int) -> np.ndarray:
    """(H,) the page's rule, recomputed: z above HIGH at every step s+1..t, more than HOLDS
    kept."""
    if s == t:
        return np.ones(z.shape[1], dtype=bool)
    return (z[s + 1 : t + 1].min(0) > HIGH) & (retention(z, s, t) > HOLDS)


def first_number(pattern: str, text: str) -> float:
    m = re.search(pattern + r"\s*\**\s*([−-]?\d+\.\d+(?:e[+−-]\d+)?)", text)
    assert m, f"{pattern!r} not in {text!r}"
    return float(m[1].replace("−", "-"))


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_memory_claims_hold_against_the_products_of_z(model, notation):
    rng = random.Random(1)
    sym = SYMBOLS[notation]
    for text in texts(model):
        tt = model.trace(text)
        z = tt.gate("z", 0).double().numpy()
        h = tt.gate("h", 0).double().numpy()
        H = z.shape[1]
        for _ in range(4):
            t, unit = rng.randrange(1, tt.T), rng.randrange(H)
            for s in {default_span_start(tt, t, unit), rng.randrange(0, t)}:
                assert 0 <= s < t
                claims = memory_claims(tt, s, t, unit, notation=notation)
                kinds = [c.kind for c in claims]
                assert kinds[0] == "answer"
                lead = claims[0].text
                ok = held_np(z, s, t)
                ret = retention(z, s, t)
                moved = np.abs(h[s : t + 1, unit] - h[s, unit]).max()
                steps = np.abs(np.diff(h[s : t + 1, unit]))
                k = s + 1 + int(steps.argmax())  # the largest move in one step, into step k
                before = np.abs(h[s:k, unit] - h[s, unit]).max()
                after = np.abs(h[k : t + 1, unit] - h[k, unit]).max()
                one_step = (t - s >= FROZEN_SPAN and steps.max() >= FROZEN and before < FROZEN
                            and after < FROZEN)
                short = ok[unit] and t - s < FROZEN_SPAN
                if not one_step and not short:
                    # the lead's "moved by up to X" / "stayed within X" is the recomputed move
                    x = first_number(r"(?:moved by up to|stayed within)", lead)
                    assert x == pytest.approx(moved, abs=6e-4)
                elif one_step:  # all the movement in one step: the lead says which
                    assert claims[0].evidence["one_step"]
                    assert first_number(r"stayed within", lead) == pytest.approx(before,
                                                                                 abs=6e-4)
                    assert first_number(r"moved by", lead) == pytest.approx(steps.max(),
                                                                            abs=6e-4)
                    assert f"step {k}" in lead
                if ok[unit] and t - s >= FROZEN_SPAN:  # the page's threshold, said with it
                    assert ((f"(frozen: within {FROZEN})" in lead) == (moved < FROZEN)
                            and (f"(frozen would be within {FROZEN})" in lead)
                            == (moved >= FROZEN)), lead
                others = np.arange(H) != unit
                if ok[unit] and not short:
                    assert f"held from step {s} to step {t}" in lead
                    n_not = int((~ok[others]).sum())  # the count of others, said plainly
                    assert (f"none of the other {H - 1} units held" in lead) == (n_not == H - 1)
                    assert f"of the other {H - 1} units did not hold" not in lead or \
                        n_not < H - 1
                    assert "unit holds" in kinds
                    frozen = moved < FROZEN and t - s >= FROZEN_SPAN
                    assert ("activation frozen" in kinds) == frozen
                    assert ("activation moved" in kinds) == (not frozen)
                    if short:  # too short for the selected unit: the lead answers on the
                        # unit that has held longest up to t, recomputed here
                        assert "too short to tell" in lead and "cannot tell:" not in lead[:20]
                        spans = {u: t - next(q for q in range(t + 1) if held_np(z, q, t)[u])
                                 for u in range(H) if u != unit and z[t, u] > HIGH}
                        longest = claims[0].evidence["longest"]
                        if spans and max(spans.values()) >= FROZEN_SPAN:
                            u = longest["unit"]
                            assert spans[u] == max(spans.values())
                            m = np.abs(h[t - spans[u] : t + 1, u] - h[t - spans[u], u]).max()
                            assert longest["moved"] == pytest.approx(m, abs=1e-6)
                            assert f"held from step {t - spans[u]} to step {t}" in lead
                            assert lead.startswith("Yes") == (m < FROZEN)
                            assert f"Choose unit {u}" in lead
                        else:  # the longest hold anywhere up to t, recomputed
                            every = [[0] * H] + [(q - hold_starts(tt, q)[0]).tolist()
                                                 for q in range(1, t + 1)]
                            top = max(max(row) for row in every)
                            if top >= FROZEN_SPAN:
                                q, u = longest["t"], longest["unit"]
                                assert every[q][u] == top
                                assert f"Go to step {q}, unit {u}" in lead
                            else:
                                assert longest is None and "no unit has held" in lead
                    if not frozen:  # where the move happened, and that it is flat after
                        c = claims[kinds.index("activation moved")]
                        assert f"at step {k}" in c.text
                        assert c.evidence["after"] == pytest.approx(after, abs=1e-6)
                if not ok[unit]:
                    assert lead.startswith(("No, not unit", "Not over this whole span"))
                    assert f"did not hold from step {s} to step {t}" in lead
                    assert lead.startswith("Not over") == (one_step and k - 1 > s
                                                           and held_np(z, s, k - 1)[unit])
                    assert "unit does not hold" in kinds and "activation frozen" not in kinds
                    # the step the lead names is one where z is not above HIGH, if any
                    if z[s + 1 : t + 1, unit].min() <= HIGH and not lead.startswith("Not"):
                        k = s + 1 + int(z[s + 1 : t + 1, unit].argmin())
                        assert f"at step {k}, not above {HIGH}" in lead
                    holding = claims[kinds.index("unit does not hold")].evidence["holding"]
                    assert set(holding) == {u for u in range(H) if u != unit and z[t, u] > HIGH}
                # the span really starts where the hold began: one step earlier it fails
                since = claims[0].evidence["since"]
                assert held_np(z, since, t)[unit] or since == t
                assert since == 0 or not held_np(z, since - 1, t)[unit]
                ev = claims[-1].evidence
                assert ev["held_too"] == int(ok[others].sum())
                assert ev["rewritten"] == int((ret[others] < REWRITTEN).sum())
                for c in claims:
                    assert "<t" not in c.text
                    assert "-" not in re.sub(r"[A-Za-z]-[A-Za-z]", "", c.text)
                    if notation == "course":
                        assert "h_prev" not in c.text and " z " not in c.text
                        assert "∏1" not in c.text
                # the chart's captions count what is drawn
                df = holders(tt, s, t)
                pic = span_picture(df, unit, sym)
                orange = pic.evidence["orange"]
                assert all(ok[u] and u != unit for u in orange)
                n_held = int(ok[others].sum())
                assert len(orange) == min(n_held, SHOWN_HOLDERS)
                if orange and len(orange) < n_held:
                    assert f"the {count_of(len(orange), 'other unit')} that held best" in pic.text
                    assert f"(of {n_held} that held)" in pic.text
                elif orange:  # all of them: no "best (of 3 that held)"
                    assert pic.text.endswith(f"the {count_of(n_held, 'other unit')} that held.")
                else:
                    assert "no other unit held" in pic.text


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_saturation_claims_follow_the_fractions(model, notation):
    for text in texts(model)[:2]:
        tt = model.trace(text)
        z = tt.gate("z", 0).double().numpy()
        for gate in ("r", "z", "u"):
            f = fractions(tt, gate, 0, LOW, HIGH)
            g = tt.gate("r", 0).double().numpy() if gate == "r" else (
                z if gate == "z" else 1 - z)
            assert f["below"] == pytest.approx((g < LOW).mean(), abs=1e-9)
            assert f["above"] == pytest.approx((g > HIGH).mean(), abs=1e-9)
            claim = saturation_claim(gate, f)
            near = (g < LOW).mean() + (g > HIGH).mean()
            assert (claim.kind == "mostly saturated") == (near > 2 / 3)
            assert (claim.kind == "mostly grey") == (1 - near > 2 / 3)
            # the three shares stated together add up to 100%, each within a unit of its value
            said = [float(x) for x in re.findall(r"([0-9.]+)%", claim.text)[:3]]
            assert sum(said) == pytest.approx(100)
            unit = 0.1 if any("." in x for x in re.findall(r"([0-9.]+)%", claim.text)) else 1
            for x, v in zip(said, (f["below"], f["above"], f["between"]), strict=True):
                assert abs(x - 100 * v) < unit
            # "exactly": counted on the stored values (float32), not the float64 copies; Γu on
            # the model's own z (Γu = 0 where z = 1), never on a 1 − z rounded here
            stored = tt.gate("r" if gate == "r" else "z", 0)
            zero, one = (1, 0) if gate == "u" else (0, 1)
            counts = exact_counts(tt, gate)
            assert counts["zeros"] == int((stored == zero).sum())
            assert counts["ones"] == int((stored == one).sum())
            assert counts["total"] == stored.numel() and counts["dtype"] == "float32"
            text_ = exact_claim(gate, counts).text
            if counts["zeros"] + counts["ones"]:
                assert f"{counts['zeros']:,} of the" in text_
            else:
                assert "none of the" in text_
        shown = ("r", "u") if notation == "course" else ("r", "z")
        sym = SYMBOLS[notation]
        items = [(sym[g], fractions(tt, g, 0), exact_counts(tt, g)) for g in shown]
        lead = saturation_answer(items)
        for name, f, _ in items:
            said = float(re.search(rf"([0-9.]+)% of {re.escape(name)}'s values", lead.text)[1])
            unit = 0.1 if min(abs(f["below"] + f["above"] - 2 / 3),
                              abs(f["between"] - 2 / 3)) < 0.01 else 1
            assert abs(said - 100 * (f["below"] + f["above"])) < unit
        verdicts = lead.evidence["verdicts"]
        for name, f, _ in items:
            near = f["below"] + f["above"]
            assert (verdicts[name] == "mostly saturated") == (near > 2 / 3)
        # Γu is z mirrored: its share near 0 is z's share near 1
        fz, fu = fractions(tt, "z", 0), fractions(tt, "u", 0)
        assert fu["below"] == pytest.approx(fz["above"], abs=0.01)


def test_shares_stated_together_add_up_to_100():
    from gru_core.analysis.claims import shares
    assert shares([0.085, 0.017, 0.898]) == ["8%", "2%", "90%"]  # not 9% + 2% + 90% = 101%
    assert shares([1 / 3, 1 / 3, 1 / 3]) == ["34%", "33%", "33%"]
    assert shares([0.6665, 0.0, 0.3335], 1) == ["66.6%", "0.0%", "33.4%"]
    rng = np.random.default_rng(2)
    for _ in range(200):
        p = rng.dirichlet(np.ones(3))
        said = [float(x[:-1]) for x in shares(list(p))]
        assert sum(said) == 100 and all(abs(x - 100 * v) < 1 for x, v in zip(said, p, strict=True))
    claim = saturation_claim("r", dict(below=0.085, above=0.017, between=0.898))
    assert claim.text.startswith("r: 8% of values are below 0.1, 2% above 0.9, 90% in between")
    assert "10% near 0 or 1" in claim.text or "90% of values grey" in claim.text


def test_exact_zeros_and_ones_are_counted_on_a_saturated_model(tmp_path_factory):
    tt = small(60.0, tmp_path_factory).trace("the cat sat.")
    counts = exact_counts(tt, "z")
    z = tt.gate("z", 0)
    assert counts["ones"] + counts["zeros"] > 0  # sigmoid(±60) rounds in float32
    assert counts["ones"] == int((z == 1).sum())


@pytest.mark.parametrize("with_rnn", [False, True])
def test_gradient_claims_agree_with_their_curves(with_rnn):
    rng = np.random.default_rng(0)
    for span in (5, 32, 120, 450):
        for _ in range(5):
            norms = np.exp(np.cumsum(rng.normal(0.1, 0.3, span + 1)))[::-1].tolist()
            z_max = np.cumprod(rng.uniform(0.8, 1.0, span + 1))[::-1].tolist()
            rnn = np.exp(np.cumsum(rng.normal(0.1, 0.3, span + 1)))[::-1].tolist()
            claims = gradient_claims(norms, z_max, rnn if with_rnn else None)
            kinds = [c.kind for c in claims]
            assert kinds[0] == "answer"
            text = " ".join(c.text for c in claims)
            assert ("rnn comparison" in kinds) == with_rnn
            assert ("RNN" in text) == with_rnn  # a plain RNN is named only where it is drawn
            hold = next(c for c in claims if c.kind == "direct path").evidence["hold"]
            assert hold == max([d for d in range(span + 1) if z_max[span - d] > HOLDS],
                               default=0)
            assert ("gate keeps a path open" in kinds) == (hold >= min(LONG_HOLD, span))
            assert ("no long hold" in kinds) != ("gate keeps a path open" in kinds)
            assert f"for up to {hold} steps back" in claims[0].text or \
                f"beyond {hold} steps back" in claims[0].text
            assert "almost unchanged" not in text and "`" not in text
            if with_rnn:
                ev = claims[kinds.index("rnn comparison")].evidence
                # every distance the chart draws past the identity, 1..span, not a few picked
                larger = [d for d in range(1, span + 1) if norms[span - d] > rnn[span - d]]
                smaller = [d for d in range(1, span + 1) if norms[span - d] < rnn[span - d]]
                assert ev["larger"] == larger and ev["smaller"] == smaller
                assert ev["ahead"] == len(larger) and ev["distances"] == span
                said = claims[kinds.index("rnn comparison")].text
                lead = claims[0].text  # the answer does not hide what the top panel shows
                for where in (said, lead):
                    every = "at every distance" in where
                    assert every == (len(larger) == span or len(smaller) == span)
                    if not every:
                        most = max(len(larger), len(smaller))
                        assert f"at {most} of the {span} distances" in where
                        rest = smaller if len(larger) > len(smaller) else larger
                        runs = re.search(r"\((?:larger|smaller) at ([^)]*)\)", where)
                        if len(runs.group(1).split(", ")) <= 3 and "other" not in runs.group(1):
                            got = []
                            for part in re.split(r", | and ", runs.group(1)):
                                a, _, b = part.partition("–")
                                got += list(range(int(a), int(b or a) + 1))
                            assert got == rest
                # the printed values at each picked distance differ where the values do
                for d in ev["gru"]:
                    if ev["gru"][d] != ev["rnn"][d]:
                        g = re.search(rf"([0-9.]+e[+−][0-9]+) at {d}\b",
                                      claims[kinds.index("jacobian")].text).group(1)
                        r = re.search(rf"([0-9.]+e[+−][0-9]+) at {d}\b", said).group(1)
                        assert g != r
                assert "as in a plain RNN" not in text


def test_printed_pairs_and_stretches():
    from gru_core.analysis.claims import apart, stretches
    assert apart(1.452, 1.496) == ("1.45e+00", "1.50e+00")
    assert apart(1.452, 3.0) == ("1.5e+00", "3.0e+00")
    assert stretches([11, 12, 13, 14, 15, 19, 20, 84]) == "11–15, 19–20 and 84"
    assert stretches([1, 3, 5, 7, 9]) == "1, 3, 5 and 2 other stretches"


def test_a_path_cut_at_t_is_said_so():
    """agreement at the verb of F: unit 76's z was above HIGH for 43 steps in a row before t
    and z_t < HOLDS, so the lead names that step as the reason (recomputed here), not a
    blanket "it hardly does"."""
    from gru_core import direct_path, jacobian_norms

    ck = load_checkpoint(CHECKPOINTS / "agreement.pt")
    text = "The bridge, which the engineers had painted last spring, was rusting again."
    t = text.index(" was") + 1
    tt = ck.trace(text)
    z = tt.gate("z", 0).double().numpy()
    claims = gradient_claims(jacobian_norms(tt, t).tolist(), direct_path(tt, t)["max"].tolist(),
                             z=tt.gate("z", 0)[: t + 1])
    ev = claims[0].evidence
    assert not ev["long"] and ev["broken"] is not None
    u = ev["broken"]["unit"]
    run = 0
    while z[t - 1 - run, u] > HIGH:
        run += 1
    assert ev["broken"]["run"] == run >= LONG_HOLD
    assert ev["broken"]["z_t"] == pytest.approx(z[t, u]) and z[t, u] <= HOLDS
    # before t, that unit kept more than half over `before` steps, and not over one more
    before = ev["broken"]["before"]
    assert retention(z, t - 1 - before, t - 1)[u] > HOLDS
    assert retention(z, t - 2 - before, t - 1)[u] <= HOLDS
    lead = claims[0].text
    assert "hardly" not in lead
    assert f"unit {u}'s z stayed above {HIGH} for {run} steps in a row" in lead
    assert f"its z is {z[t, u]:.3f}, which alone lets less than half through" in lead
    assert f"beyond {ev['hold']} steps back" in lead


def test_gradient_claims_on_a_trace(model):
    from gru_core import direct_path, jacobian_norms

    tt = model.trace(texts(model)[0])
    t = tt.T - 1
    norms = jacobian_norms(tt, t).tolist()
    path = direct_path(tt, t)
    z = tt.gate("z", 0).double().numpy()
    for notation in ("pytorch", "course"):
        claims = gradient_claims(norms, path["max"].tolist(), notation=notation,
                                 z=tt.gate("z", 0)[: t + 1])
        hold = claims[0].evidence["hold"]
        broken = claims[0].evidence["broken"]
        if broken:  # the path to t − 1 was long, and step t's own z cut it: recomputed
            u, d = broken["unit"], broken["before"]
            assert retention(z, t - 1 - d, t - 1)[u] > HOLDS and d >= LONG_HOLD and d > hold
            if t - 2 - d >= 0:  # no unit keeps more than half over one step more
                assert (retention(z, t - 2 - d, t - 1) <= HOLDS).all()
            assert broken["z_t"] == pytest.approx(z[t, u])
            assert f"{fmt(z[t, u], 3)}" in claims[0].text and "hardly" not in claims[0].text
        best = [retention(z, t - d, t).max() for d in range(t + 1)]
        assert hold == max([d for d in range(t + 1) if best[d] > HOLDS], default=0)
        # the start value is the identity's norm, √H, and the sentence says so
        H = tt.config.hidden_size
        jac = claims[1]
        assert jac.evidence["H"] == H and f"√H = √{H}" in jac.text
        assert norms[-1] == pytest.approx(H ** 0.5)
        text = " ".join(c.text for c in claims)
        if notation == "course":
            assert "∏(1−Γu)" in text and "∏1" not in text and "h_s" not in text
            assert "‖∂c⟨t⟩/∂c⟨s⟩‖" in text


def test_reset_claim_and_the_card_in_both_notations(model):
    tt = model.trace(texts(model)[0])
    for t in (1, tt.T // 2, tt.T - 1):
        cf = reset_counterfactual(tt, t)
        vocab = list(tt.vocab.tokens)
        nxt = tt.tokens[t + 1] if t + 1 < tt.T else None
        claims = reset_claims(cf, t, tt.tokens[t], {"r": "r", "n": "n"}, repr, vocab, nxt)
        claim = claims[0]
        change = (cf.n - cf.n_no_reset).abs().double()
        assert claim.evidence["max"] == pytest.approx(float(change.max()))
        assert claim.evidence["unit"] == int(change.argmax())
        if cf.probs is not None:  # the prediction's change has its own sentence
            p, q = cf.probs.double().numpy(), cf.probs_no_reset.double().numpy()
            tv = 0.5 * np.abs(p - q).sum()
            assert f"by {tv:.1%} (total variation: the share of probability" in claim.text
            pred = claims[-1]
            assert pred.kind == "prediction"
            assert f"{repr(vocab[int(p.argmax())])}" in pred.text
            if nxt is not None:
                k = vocab.index(nxt)
                assert f"{repr(nxt)}, has {p[k]:.1%}" in pred.text
                assert f"and {q[k]:.1%} with r = 1" in pred.text
        for unit in (0, tt.config.hidden_size - 1):
            card = step_card(tt, t, unit)
            g = {k: float(tt.gate(k, 0, 0, t)[unit]) for k in ("r", "z", "n", "h")}
            # course notation names this model's own quantities
            assert card.course["c̃"] == g["n"] and card.course["c⟨t⟩"] == g["h"]
            assert card.course["Γr"] == g["r"] and card.course["Γu"] == pytest.approx(1 - g["z"])
            course, torch_ = "\n".join(course_latex(card)), "\n".join(pytorch_latex(card))
            last = course_latex(card)[-1]  # c⟨t⟩ = a⟨t⟩ = … = h, this model's new state
            assert last.startswith(r"c^{\langle t\rangle} = a^{\langle t\rangle}")
            assert last.endswith(f"= {fmt_num(g['h']).replace('−', '-')}"
                                 + r"\quad\text{new state}")
            for latex in (course, torch_):
                assert "<t" not in latex and "-0.0000" not in latex
                assert not re.search(r"(?<![\\\w{])(ir|hr|iz|hz|hn|prev)\b", latex)
            assert r"h_{\mathrm{prev}}" in torch_ and r"c^{\langle t\rangle}" in course
            for name in ("reset gate", "update gate", "candidate", "new state"):
                assert name in course and name in torch_
            comp = comparison(card)  # shown where the card is not this model's formula
            post = forum_post(card, "m", tt.text, "http://x", compared_in(card))
            tail = post.split("$$")[-1].split("[Open")[0]
            assert comp in post and not re.search(r"(?<!\w)-\d", tail)  # numbers print −, not -
            if card.reset_after:
                assert "would give c̃_lecture = " in comp and "this model computes c̃ = " in comp
                assert fmt_num(abs(card.course['c̃ (lecture)'])) in comp
            else:  # the lecture's formula is this model's own; PyTorch's is the comparison
                assert "would give n_PyTorch = " in comp and "computes the lecture's n = " in comp
                assert fmt_num(abs(card.n_other)) in comp


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_step_sentences_use_one_minus_sign_and_the_notation(model, notation):
    tt = model.trace(texts(model)[1])
    s = step_summary(tt, tt.T - 1)
    for line in [s.headline(notation), *s.sentences(notation)]:
        assert "-" not in line.replace("h_prev", "") and "<t" not in line
        if notation == "course":
            assert "h_prev" not in line and " z " not in line


def test_the_reset_sentence_says_when_the_old_state_is_zero(model):
    """At t = 0 from zeros h_prev is 0 in every unit: the reset then scales only the old state's
    bias (b_hn, where the reset acts after the product) or nothing (before it); later it says
    nothing of the kind."""
    tt = model.trace("The cats, which already ate the fish, were full.")
    sym = SYMBOLS["pytorch"]
    for t in (0, 5):
        cf = reset_counterfactual(tt, t)
        said = reset_claims(cf, t, tt.tokens[t], sym)[1].text
        zero = bool((tt.gate("h_prev", 0, 0, t) == 0).all())
        assert cf.old_state_zero == zero == (t == 0)
        assert ("is zero in every unit" in said) == zero
        if zero:
            nothing = float(cf.change.max()) == 0
            assert ("nothing to scale" in said) == nothing
            assert ("bias alone" in said) == (not nothing)


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_the_first_step_says_how_h_was_mixed_and_where_to_ask(model, notation):
    """At t = 0: h = z·h_prev + (1 − z)·n from the trace's own numbers. The memory view
    suggests where the unit's longest hold by the page's rule ends (hold_start at every t,
    recomputed here), or the last step; the gradient view the last step."""
    for text in texts(model)[:2]:
        tt = model.trace(text)
        z = tt.gate("z").double().numpy()
        for unit in (0, z.shape[1] - 1):
            longest = [0] + [t - hold_start(tt, t, unit) for t in range(1, len(z))]
            for question in ("memory", "gradients"):
                claim = first_step_claim(tt, unit, 0, notation, question)
                ev = claim.evidence
                assert ev["z"] == pytest.approx(z[0, unit])
                assert ev["h"] == pytest.approx(ev["z"] * ev["h_prev"] + (1 - ev["z"]) * ev["n"],
                                                abs=1e-6)
                assert ev["zeros"] and ev["h_prev"] == 0  # a text read from the zero state
                best = max(longest)
                every = [[0] * z.shape[1]] + [(t - hold_starts(tt, t)[0]).tolist()
                                              for t in range(1, len(z))]
                top = max(max(row) for row in every)
                if question == "memory" and best >= FROZEN_SPAN:  # the view answers there
                    assert ev["goto"] == longest.index(best) and ev["unit"] == unit
                    s = ev["goto"] - best
                    assert f"runs from step {s} to step {ev['goto']}" in claim.text
                elif question == "memory" and top >= FROZEN_SPAN:  # the unit that holds longest
                    assert every[ev["goto"]][ev["unit"]] == top
                    assert f"step {ev['goto']} with unit {ev['unit']}" in claim.text
                else:
                    assert ev["goto"] == len(z) - 1 and ev["unit"] == unit
                assert f"= {fmt(ev['h'], 3)}." in claim.text
                assert f"step {ev['goto']}" in claim.text
                leak = r"\bz\b|h_prev|\bn\b" if notation == "course" else "Γ|c̃|⟨"
                assert not re.search(leak, claim.text), claim.text


def test_the_default_span_starts_where_the_latest_hold_began(model):
    """The slider's promise: s is where the selected unit's latest hold up to t began (the one
    at t, or the one the last step that does not hold broke), recomputed with hold_start."""
    rng = random.Random(5)
    tt = model.trace(texts(model)[0])
    for _ in range(6):
        t, unit = rng.randrange(1, tt.T), rng.randrange(tt.config.hidden_size)
        ends = [q for q in range(1, t + 1) if hold_start(tt, q, unit) < q]
        want = hold_start(tt, ends[-1], unit) if ends else max(0, t - 20)
        assert default_span_start(tt, t, unit) == want


def test_the_verb_and_a_short_hold_are_answered_on_shipped_text():
    """agreement at the verb of F: the number unit held up to the step before and all its
    movement is in the last step; shakespeare at a late step: the selected unit held one step,
    so the lead answers on the unit that has held longest."""
    ck = load_checkpoint(CHECKPOINTS / "agreement.pt")
    F = "The bridge, which the engineers had painted last spring, was rusting again."
    t = F.index(" was") + 1
    tt = ck.trace(F)
    s = default_span_start(tt, t, 76)
    lead = memory_claims(tt, s, t, 76)[0]
    z, h = tt.gate("z", 0).double().numpy(), tt.gate("h", 0).double().numpy()
    assert s < t - 20 and held_np(z, s, t - 1)[76] and not held_np(z, s - 1, t - 1)[76]
    assert lead.text.startswith(f"Not over this whole span: unit 76 held from step {s} to "
                                f"step {t - 1}")
    assert f"its z is {z[t, 76]:.3f}" in lead.text
    assert f"moved by {abs(h[t, 76] - h[t - 1, 76]):.3f} in that one step" in lead.text
    # a one-step hold late in a Shakespeare passage: answered on the longest hold up to t
    Q = ("PROSPERO:\nThe fringed curtains of thine eye advance\nAnd say what thou seest "
         "yond.\n\nMIRANDA:\nWhat is't? a spirit?\n")
    tt = load_checkpoint(CHECKPOINTS / "shakespeare-2layer.pt").trace(Q)
    t = 112
    s = default_span_start(tt, t, 16)
    lead = memory_claims(tt, s, t, 16)[0]
    assert t - s < FROZEN_SPAN and "cannot tell:" not in lead.text
    every = [[0] * 256] + [(q - hold_starts(tt, q)[0]).tolist() for q in range(1, t + 1)]
    top = max(max(row) for row in every)
    longest = lead.evidence["longest"]
    assert top >= FROZEN_SPAN and every[longest["t"]][longest["unit"]] == top
    h = tt.gate("h", 0).double().numpy()[:, longest["unit"]]
    moved = np.abs(h[longest["t"] - top : longest["t"] + 1] - h[longest["t"] - top]).max()
    assert longest["moved"] == pytest.approx(moved)
    assert lead.text.startswith("Yes" if moved < FROZEN else "Not even for")


def test_numbers_near_0_and_1_are_never_printed_as_0_or_1():
    from gru_core import fmt_near, pct
    assert fmt_near(0.99966) == "0.9997" and fmt_near(0.00033) == "0.0003"
    assert fmt_near(-0.99999) == "−0.99999" and fmt_near(1.0) == "1.000"
    assert fmt_near(0.0) == "0.000" and fmt_near(0.5) == "0.500"
    # where more digits are needed, the card's 4 decimals first: the same reading as f4
    assert fmt_near(0.000512, 2) == "0.0005" and fmt_near(-0.00093, 2) == "−0.0009"
    assert fmt_near(0.9999996, 2) == "0.9999996"
    assert pct(0.9996) == "99.96%" and pct(1.0) == "100.0%" and pct(0.0004) == "0.04%"
    assert pct(0.5) == "50.0%"


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_a_saturated_gate_reads_the_same_on_the_card_the_cell_and_the_player(notation):
    """agreement, G, t = 52, unit 104: z = 6.06e−08. The card's LaTeX, the cell's label, the
    player's line and the summary sentence write it the same way (4 decimals, or e-notation
    for a nonzero value that would print as 0.0000), never as 0.0000 or 0.0000001."""
    from dashboard.views.stepper import card_lines
    from dashboard.views.stepper.cell import labels
    from gru_core import balance, fmt_near, fmt_num, sentence, step_terms, tex_num

    G = "The letters, which my grandmother kept in a drawer, were yellow with age."
    tt = load_checkpoint(CHECKPOINTS / "agreement.pt").trace(G)
    t, unit = 52, 104
    z = float(tt.gate("z", 0)[t, unit])
    assert 0 < z < 5e-5  # the saturated value this test is about
    u = z if notation == "pytorch" else 1 - z
    want = "6.06e−08" if notation == "pytorch" else "0.9999999"  # never 1.0000: it is not 1
    assert fmt_num(u) == want
    assert fmt_near(u, 2) == want if notation == "pytorch" else fmt_near(u, 2).startswith("0.9999")
    if notation == "pytorch":
        card = step_card(tt, t, unit)
        latex = pytorch_latex(card)
        z_line = next(line for line in latex if line.startswith(r"z = \sigma"))
        assert z_line.split(" = ")[-1].startswith(r"6.06\mathrm{e}{-08}")
        assert tex_num(card.terms["z"]) == r"6.06\mathrm{e}{-08}"
        cell = labels(step_terms(tt, unit, 0, 0, slice(t, t + 1))[0], notation, "w", t, unit)
        assert any(text.endswith("= 6.06e−08") for text in cell.values())
        df = balance(tt, unit, 0, 0, slice(t, t + 1))
        line = card_lines(df, unit, notation)[0]["line"]
        assert "z = 6.06e−08 ·" in line
        g = {k: float(tt.gate(k, 0)[t, unit]) for k in ("z", "n", "h_prev", "h")}
        row = pd.Series(dict(unit=unit, change=g["h"] - g["h_prev"], **g))  # as step_summary
        said = sentence(row, notation)
        assert "z = 6.06e−08" in said and "0.0000" not in said
    for v in (6.06e-8, -3.2e-6, 4.9e-5, 0.00033, 0.5):  # one rule: fmt_near agrees with f4
        if abs(v) < 5e-5:
            assert fmt_near(v, 2) == fmt_num(v) and "e−" in fmt_num(v)
        assert float(fmt_near(v).replace("−", "-")) != 0
