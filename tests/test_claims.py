"""Every sentence against the numbers it rests on: each shipped model (and small random and
saturated GRUs), both notations, on texts made here (random, crafted, the course's sentence).

The numbers a claim is checked against are recomputed here with NumPy from the trace's gates
(which tests/test_exact.py holds bit for bit to nn.GRU), not read back from the claim."""

import json
import random
import re

import numpy as np
import pytest
import torch

from dashboard.export import compared_in, comparison, course_latex, forum_post, pytorch_latex
from gru_core import (
    FROZEN,
    HIGH,
    HOLDS,
    LONG_HOLD,
    LOW,
    REWRITTEN,
    GRUConfig,
    TokenGRU,
    default_span_start,
    fmt,
    fractions,
    gradient_claims,
    load_checkpoint,
    memory_claims,
    reset_claim,
    reset_counterfactual,
    saturation_claim,
    save_checkpoint,
    step_card,
    step_summary,
)

from .conftest import CHECKPOINTS

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


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_memory_claims_hold_against_the_products_of_z(model, notation):
    rng = random.Random(1)
    for text in texts(model):
        tt = model.trace(text)
        z = tt.gate("z", 0).double().numpy()
        h = tt.gate("h", 0).double().numpy()
        H = z.shape[1]
        for _ in range(4):
            t, unit = rng.randrange(1, tt.T), rng.randrange(H)
            s = default_span_start(tt, t, unit)
            assert 0 <= s < t
            claims = memory_claims(tt, s, t, unit, notation=notation)
            kinds = [c.kind for c in claims]
            ret = retention(z, s, t)
            if "unit holds" in kinds:
                assert ret[unit] > HOLDS
                # the span starts where it began holding: one step earlier it would not hold
                assert s == 0 or retention(z, s - 1, t)[unit] <= HOLDS
                moved = np.abs(h[s : t + 1, unit] - h[s, unit]).max()
                assert ("activation frozen" in kinds) == (moved < FROZEN)
                assert ("activation moved" in kinds) == (moved >= FROZEN)
            else:
                assert kinds[0] == "unit does not hold" and ret[unit] <= HOLDS
                assert "activation frozen" not in kinds  # never frozen without a hold
                for u in claims[0].evidence["holding"]:
                    assert z[t, u] > HOLDS and u != unit
                holding = {u for u in range(H) if u != unit and z[t, u] > HOLDS}
                assert set(claims[0].evidence["holding"]) == holding
            # no two claims contradict: held and not held are exclusive, counts add up
            assert not {"unit holds", "unit does not hold"} <= set(kinds)
            others = claims[-1]
            mask = np.arange(H) != unit
            assert others.evidence["rewritten"] == int((ret[mask] < REWRITTEN).sum())
            assert others.evidence["held_too"] == int((ret[mask] > HOLDS).sum())
            for c in claims:
                assert "<t" not in c.text and "-" not in re.sub(r"[A-Za-z]-[A-Za-z]", "", c.text)
                if notation == "course":
                    assert "h_prev" not in c.text


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
            assert (claim.kind == "mostly saturated") == (near > 0.5)
            assert (claim.kind == "mostly grey") == (near <= 0.5 and 1 - near > 0.5)
        # Γu is z mirrored: its share near 0 is z's share near 1
        fz, fu = fractions(tt, "z", 0), fractions(tt, "u", 0)
        assert fu["below"] == pytest.approx(fz["above"], abs=0.01)


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
            text = " ".join(c.text for c in claims)
            assert ("rnn comparison" in kinds) == with_rnn
            assert ("RNN" in text) == with_rnn  # a plain RNN is named only where it is drawn
            hold = next(c for c in claims if c.kind == "direct path").evidence["hold"]
            assert hold == max([d for d in range(span + 1) if z_max[span - d] > HOLDS],
                               default=0)
            assert ("gate keeps a path open" in kinds) == (hold >= min(LONG_HOLD, span))
            assert ("no long hold" in kinds) != ("gate keeps a path open" in kinds)
            if with_rnn:
                ev = claims[1].evidence
                ahead = sum(ev["gru"][d] > ev["rnn"][d] for d in ev["gru"])
                assert ev["ahead"] == ahead
                n = len(ev["gru"])
                assert ("more than the plain RNN" in text) == (ahead > n / 2)
                assert ("less than the plain RNN" in text) == (ahead < n / 2)
                assert "as in a plain RNN" not in text


def test_gradient_claims_on_a_trace(model):
    from gru_core import direct_path, jacobian_norms

    tt = model.trace(texts(model)[0])
    t = tt.T - 1
    norms = jacobian_norms(tt, t).tolist()
    path = direct_path(tt, t)
    z = tt.gate("z", 0).double().numpy()
    claims = gradient_claims(norms, path["max"].tolist())
    hold = claims[1].evidence["hold"]
    best = [retention(z, t - d, t).max() for d in range(t + 1)]
    assert hold == max([d for d in range(t + 1) if best[d] > HOLDS], default=0)


def test_reset_claim_and_the_card_in_both_notations(model):
    tt = model.trace(texts(model)[0])
    for t in (1, tt.T // 2, tt.T - 1):
        cf = reset_counterfactual(tt, t)
        claim = reset_claim(cf, t, tt.tokens[t], {"r": "r", "n": "n"})
        change = (cf.n - cf.n_no_reset).abs().double()
        assert claim.evidence["max"] == pytest.approx(float(change.max()))
        assert claim.evidence["unit"] == int(change.argmax())
        for unit in (0, tt.config.hidden_size - 1):
            card = step_card(tt, t, unit)
            g = {k: float(tt.gate(k, 0, 0, t)[unit]) for k in ("r", "z", "n", "h")}
            # course notation names this model's own quantities
            assert card.course["c̃"] == g["n"] and card.course["c⟨t⟩"] == g["h"]
            assert card.course["Γr"] == g["r"] and card.course["Γu"] == pytest.approx(1 - g["z"])
            course, torch_ = "\n".join(course_latex(card)), "\n".join(pytorch_latex(card))
            last = course_latex(card)[-1]  # c⟨t⟩ = a⟨t⟩ = … = h, this model's new state
            assert last.startswith(r"c^{\langle t\rangle} = a^{\langle t\rangle}")
            assert last.endswith(f"= {fmt(g['h']).replace('−', '-')}" + r"\quad\text{new state}")
            for latex in (course, torch_):
                assert "<t" not in latex and "-0.0000" not in latex
                assert not re.search(r"(?<![\\\w{])(ir|hr|iz|hz|hn|prev)\b", latex)
            assert r"h_{\mathrm{prev}}" in torch_ and r"c^{\langle t\rangle}" in course
            for name in ("reset gate", "update gate", "candidate", "new state"):
                assert name in course and name in torch_
            comp = comparison(card)  # shown where the card is not this model's formula
            post = forum_post(card, "m", tt.text, "http://x", compared_in(card))
            assert comp in post and "-" not in post.split("$$")[-1].split("[Open")[0]
            if card.reset_after:
                assert "would give c̃ = " in comp and "this model computes c̃ = n = " in comp
                assert f"{abs(card.course['c̃ (lecture)']):.4f}" in comp
            else:  # the lecture's formula is this model's own; PyTorch's is the comparison
                assert "would give n = " in comp and "computes the lecture's n = " in comp
                assert f"{abs(card.n_other):.4f}" in comp


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_step_sentences_use_one_minus_sign_and_the_notation(model, notation):
    tt = model.trace(texts(model)[1])
    s = step_summary(tt, tt.T - 1)
    for line in [s.headline(notation), *s.sentences(notation)]:
        assert "-" not in line.replace("h_prev", "") and "<t" not in line
        if notation == "course":
            assert "h_prev" not in line and " z " not in line
