"""The step card, the what-if and the reset counterfactual on Keras GRUs, both conventions.

Every number is checked against Keras itself (its layers' outputs, a GRU layer run from an edited
state) or against the equations recomputed here in NumPy (float64) from Keras's own variables,
never against gru_core's step: for reset_after=False that is the lecture's formula,
hh = tanh(x·W_h + b_h + (r ⊙ h_prev)·U_h), one bias per gate.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from dashboard.export import (
    comparison,
    course_latex,
    differences,
    forum_post,
    pytorch_latex,
)
from dashboard.views.stepper.cell import cell_figure, wire_values
from gru_core import (
    CONVENTIONS,
    load_checkpoint,
    reset_counterfactual,
    step_card,
    what_if,
)

from ..exact.test_keras import TEXT, TOKENS, build, keras, keras_input

# test_keras sets KERAS_BACKEND=torch before it imports keras
ATOL = 2e-5  # NumPy float64 against float32 over a few dozen steps


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_step(x, h, kernel, rk, bias, reset_after: bool) -> dict[str, np.ndarray]:
    """One Keras GRU step in float64 from Keras's variables (columns z | r | h)."""
    H = rk.shape[0]
    if reset_after:
        mx, mh = x @ kernel + bias[0], h @ rk + bias[1]
        z, r = sigmoid(mx[:H] + mh[:H]), sigmoid(mx[H : 2 * H] + mh[H : 2 * H])
        hn = mh[2 * H :]
        n = np.tanh(mx[2 * H :] + r * hn)
        pytorch_n = n
        lecture_n = np.tanh(mx[2 * H :] + (r * h) @ rk[:, 2 * H :] + bias[1][2 * H :])
    else:
        mx, mi = x @ kernel + bias, h @ rk[:, : 2 * H]
        z, r = sigmoid(mx[:H] + mi[:H]), sigmoid(mx[H : 2 * H] + mi[H:])
        hn = (r * h) @ rk[:, 2 * H :]  # the lecture's U_h (Γr ⊙ c⟨t−1⟩), no bias
        n = np.tanh(mx[2 * H :] + hn)
        pytorch_n = np.tanh(mx[2 * H :] + r * (h @ rk[:, 2 * H :]))  # b_hn = 0 here
        lecture_n = n
    return {"z": z, "r": r, "in": mx[2 * H :], "hn": hn, "n": n, "h": z * h + (1 - z) * n,
            "pytorch_n": pytorch_n, "lecture_n": lecture_n}


class Reference:
    """The model's equations in NumPy: every layer's steps from any state."""

    def __init__(self, model, one_hot: bool, reset_after: bool):
        self.reset_after, self.one_hot = reset_after, one_hot
        grus = [la for la in model.layers if isinstance(la, keras.layers.GRU)]
        self.cells = [[np.float64(w) for w in la.get_weights()] for la in grus]
        self.E = None if one_hot else np.float64(model.layers[0].get_weights()[0])
        self.W, self.b = (np.float64(w) for w in model.layers[-1].get_weights())

    def inputs(self, text: str) -> np.ndarray:
        ids = [TOKENS.index(c) for c in text]
        return np.eye(len(TOKENS))[ids] if self.one_hot else self.E[ids]

    def step(self, layer: int, x, h) -> dict[str, np.ndarray]:
        return np_step(x, h, *self.cells[layer], self.reset_after)

    def run(self, layer: int, xs, h) -> np.ndarray:
        out = []
        for x in xs:
            h = self.step(layer, x, h)["h"]
            out.append(h)
        return np.array(out)

    def probs(self, h_top) -> np.ndarray:
        logits = h_top @ self.W + self.b
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)


def keras_layers_out(model, text: str, one_hot: bool) -> list[np.ndarray]:
    """Each GRU layer's output sequence, as Keras computes it."""
    grus = [la for la in model.layers if isinstance(la, keras.layers.GRU)]
    probe = keras.Model(model.inputs, [la.output for la in grus])
    outs = probe(keras_input(text, one_hot))
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return [o.detach()[0].numpy() for o in outs]


def setup(arch: str, reset_after: bool, tmp_path, H: int = 13, seed: int = 1):
    model = build(arch, reset_after, H=H, scale=0.8, seed=seed)
    model.save(tmp_path / "m.keras")
    tt = load_checkpoint(tmp_path / "m.keras", vocab=TOKENS).trace(TEXT)
    one_hot = arch.startswith("onehot")
    return model, tt, Reference(model, one_hot, reset_after), one_hot


def latex_number(v: float) -> str:
    return f"{float(v):.4f}".replace("-0.0000", "0.0000")


# ---- the step card ---------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["emb1", "onehot1", "emb2"])
def test_reset_before_card_is_the_lecture_formula_with_keras_numbers(arch, tmp_path):
    model, tt, ref, one_hot = setup(arch, False, tmp_path)
    assert tt.convention == "keras-reset-before"
    keras_h = keras_layers_out(model, TEXT, one_hot)
    xs = ref.inputs(TEXT)
    layer = 1 if arch == "emb2" else 0
    x_seq = xs if layer == 0 else keras_h[0]
    for t, unit in ((0, 0), (7, 4), (len(TEXT) - 1, 12)):
        h_prev = np.zeros(13) if t == 0 else np.float64(keras_h[layer][t - 1])
        want = ref.step(layer, x_seq[t], h_prev)
        card = step_card(tt, t, unit, layer)
        T = card.terms
        assert T["h_gru"] == float(keras_h[layer][t, unit])  # Keras's own h, bit for bit
        assert T["h_diff"] == 0  # recomputed in Keras's order, z·h_prev + (1 − z)·n
        for k in ("z", "r", "in", "hn", "n"):
            assert T[k] == pytest.approx(want[k][unit], abs=ATOL), k
        assert T["r_h_prev"] == pytest.approx(want["r"][unit] * h_prev[unit], abs=ATOL)
        assert "r_hn" not in T
        assert card.n_other == pytest.approx(want["pytorch_n"][unit], abs=ATOL)
        assert card.course["c̃"] == T["n"] and "c̃ (lecture)" not in card.course
        assert card.framework == CONVENTIONS["keras-reset-before"].framework
        assert card.biases["b_hr"] == card.biases["b_hz"] == card.biases["b_hn"] == 0.0
        assert card.course["b_c"] == pytest.approx(ref.cells[layer][2][26 + unit], abs=1e-7)

        course = course_latex(card)
        c_line = next(line for line in course if line.startswith(r"\tilde c = "))
        assert r"\tanh(W_c[\Gamma_r \odot c^{\langle t-1\rangle}, x^{\langle t\rangle}] + b_c)" \
            in c_line and "the lecture's formula" in c_line
        assert c_line.endswith(rf"= {latex_number(T['n'])}\quad\text{{candidate (the lecture's "
                               r"formula)}")
        for v in (T["hn"], T["in"]):  # the hidden part and the input part, with their values
            assert latex_number(v).lstrip("-") in c_line
        assert any(line.startswith(r"\Gamma_r \odot c^{\langle t-1\rangle} = ")
                   and latex_number(T["r_h_prev"]) in line for line in course)
        torch_ = pytorch_latex(card)
        n_line = next(line for line in torch_ if line.startswith("n = "))
        assert r"W_{\mathrm{hn}}(r \odot h_{\mathrm{prev}})" in n_line
        assert r"r \cdot \mathrm{hn}" not in "".join(torch_ + course)
        for latex in ("\n".join(course), "\n".join(torch_)):
            assert "<t" not in latex and "-0.0000" not in latex
            assert not re.search(r"(?<![\\\w{])(ir|hr|iz|hz|hn|prev)\b", latex)

        comp = comparison(card)  # the mirror: PyTorch's formula is the comparison
        assert comp.startswith("For comparison: PyTorch's formula, which resets after")
        assert f"would give n_PyTorch = {card.n_other:.4f}".replace("-", "−") in comp
        assert f"= {T['n']:.4f}".replace("-", "−") in comp
        post_torch = forum_post(card, "m", tt.text, "http://x", "pytorch")
        post_course = forum_post(card, "m", tt.text, "http://x", "course")
        assert comp in post_torch and comp not in post_course
        for post in (post_torch, post_course):
            assert f"Whose numbers: {card.framework}." in post
            assert "Keras's own output" in post and "difference 0, bit for bit" in post
        diff = differences(card)
        assert "computes the lecture's GRU" in diff and "applies Γr after" not in diff


@pytest.mark.parametrize("arch", ["emb1", "onehot2"])
def test_reset_after_card_is_pytorchs_formula_with_keras_numbers(arch, tmp_path):
    model, tt, ref, one_hot = setup(arch, True, tmp_path)
    assert tt.convention == "keras-reset-after"
    keras_h = keras_layers_out(model, TEXT, one_hot)
    layer = 1 if arch.endswith("2") else 0
    x_seq = ref.inputs(TEXT) if layer == 0 else keras_h[0]
    for t, unit in ((0, 3), (11, 9)):
        h_prev = np.zeros(13) if t == 0 else np.float64(keras_h[layer][t - 1])
        want = ref.step(layer, x_seq[t], h_prev)
        card = step_card(tt, t, unit, layer)
        T = card.terms
        assert T["h_gru"] == float(keras_h[layer][t, unit]) and T["h_diff"] == 0
        for k in ("z", "r", "hn", "n"):
            assert T[k] == pytest.approx(want[k][unit], abs=ATOL), k
        assert T["r_hn"] == pytest.approx(want["r"][unit] * want["hn"][unit], abs=ATOL)
        assert card.course["c̃ (lecture)"] == card.n_other
        assert card.n_other == pytest.approx(want["lecture_n"][unit], abs=ATOL)
        n_line = next(line for line in pytorch_latex(card) if line.startswith("n = "))
        assert r"r \cdot \mathrm{hn}" in n_line
        comp = comparison(card)
        assert comp.startswith("For comparison: the lecture's formula")
        post = forum_post(card, "m", tt.text, "http://x", "course")
        assert comp in post and "Keras 3 GRU (reset_after=True)" in post
        assert comp not in forum_post(card, "m", tt.text, "http://x", "pytorch")


def test_the_cell_figure_labels_the_reset_before_wires(tmp_path):
    _, tt, _, _ = setup("emb1", False, tmp_path)
    card = step_card(tt, 5, 2)
    for notation, hp, hn in (("course", "Γr ⊙ c⟨t−1⟩", "hidden part"),
                             ("pytorch", "r ⊙ h_prev", "W_hn·(r ⊙ h_prev)")):
        wires = wire_values(card.terms, notation)  # the course's card: W_c's hidden part
        assert wires["r_hn"] == (hp, card.terms["r_h_prev"])
        assert wires["hn"] == (hn, card.terms["hn"])


@pytest.mark.parametrize("reset_after", [False, True], ids=["reset_before", "reset_after"])
def test_the_players_cell_terms_are_the_cards_in_the_models_own_formula(reset_after, tmp_path):
    """step_terms (the player's cell, a window at once) carries r ⊙ h_prev where the model
    resets before the product, r ⊙ hn where after, and h in Keras's order: the card's numbers."""
    from gru_core import step_terms

    _, tt, _, _ = setup("emb1", reset_after, tmp_path)
    rows = step_terms(tt, 2, 0, 0, slice(1, tt.T))
    reset = "r_hn" if reset_after else "r_h_prev"
    for row in rows:
        card = step_card(tt, row["t"], 2).terms
        assert reset in row and {k: row[k] for k in row if k != "t"} == {
            k: card[k] for k in row if k != "t"}, row["t"]
        assert row["h"] == card["h_gru"]  # Keras's own h, bit for bit


# ---- what if? --------------------------------------------------------------------------------

@pytest.mark.parametrize("reset_after", [False, True], ids=["reset_before", "reset_after"])
@pytest.mark.parametrize("gate, value", [("r", 0.0), ("r", 1.0), ("z", 0.0), ("z", 1.0)])
def test_what_if_runs_on_in_the_models_own_formula(reset_after, gate, value, tmp_path):
    model, tt, ref, one_hot = setup("emb2", reset_after, tmp_path)
    keras_h = keras_layers_out(model, TEXT, one_hot)
    xs = ref.inputs(TEXT)
    t, unit, K = 9, 5, 8
    h_prev = np.float64(keras_h[0][t - 1])
    wi = what_if(tt, t, unit, gate, value, layer=0, steps=K)

    g = ref.step(0, xs[t], h_prev)  # the edited step in NumPy, the model's own formula
    g[gate] = g[gate].copy()
    g[gate][unit] = value
    H = 13
    k, rk, b = ref.cells[0]
    if gate == "r" and reset_after:
        hn = h_prev @ rk[:, 2 * H :] + b[1][2 * H :]
        g["n"] = np.tanh(g["in"] + g["r"] * hn)
    elif gate == "r":  # the lecture's: r ⊙ h_prev goes into U_h, every unit's candidate moves
        g["n"] = np.tanh(g["in"] + (g["r"] * h_prev) @ rk[:, 2 * H :])
    h_t = g["z"] * h_prev + (1 - g["z"]) * g["n"]
    steps = range(t, t + K + 1)
    want0 = np.concatenate([h_t[None], ref.run(0, xs[t + 1 : t + K + 1], h_t)])
    np.testing.assert_allclose(wi.h_what_if.double().numpy(), want0, atol=ATOL, rtol=0)
    want1 = ref.run(1, want0, np.float64(keras_h[1][t - 1]))
    np.testing.assert_allclose(wi.probs_what_if.double().numpy(), ref.probs(want1), atol=ATOL,
                               rtol=0)
    assert list(wi.steps) == list(steps)
    if gate == "r" and not reset_after and value != wi.actual:
        assert int((wi.h_what_if[0] != wi.h[0]).sum()) > 1  # not only this unit's candidate

    # Keras itself, run on from the edited state: its layers give the same states
    gru0, gru1 = (la for la in model.layers if isinstance(la, keras.layers.GRU))
    x_next = torch.tensor(np.float32(xs[t + 1 : t + K + 1]))[None]
    h0 = wi.h_what_if[0][None]
    out0 = gru0(x_next, initial_state=[h0]).detach()[0]
    torch.testing.assert_close(wi.h_what_if[1:], out0, atol=1e-6, rtol=0)
    out1 = gru1(wi.h_what_if[None], initial_state=[torch.tensor(keras_h[1][t - 1])[None]])
    dense = model.layers[-1]
    p = dense(out1).detach()[0]  # build(): a softmax head for reset_after, else logits
    p = p if reset_after else torch.softmax(p, -1)
    torch.testing.assert_close(wi.probs_what_if, p, atol=1e-6, rtol=0)


@pytest.mark.parametrize("reset_after", [False, True], ids=["reset_before", "reset_after"])
def test_an_edit_that_changes_nothing_is_the_actual_run(reset_after, tmp_path):
    _, tt, _, _ = setup("emb1", reset_after, tmp_path)
    for gate in ("r", "z"):
        actual = float(tt.gate(gate, 0, 0, 6)[3])
        wi = what_if(tt, 6, 3, gate, actual, steps=10)
        assert torch.equal(wi.h_what_if[0], wi.h[0])  # the edited step: Keras's bits
        torch.testing.assert_close(wi.h_what_if, wi.h, atol=1e-6, rtol=0)
        torch.testing.assert_close(wi.probs_what_if, wi.probs, atol=1e-6, rtol=0)


def test_what_if_sentences_quote_tokens_with_the_callers_quote(tmp_path):
    _, tt, _, _ = setup("emb1", False, tmp_path)
    wi = what_if(tt, 4, 1, "z", 0.0, steps=5)
    hostile = tuple(f"**{tok}**<b>" for tok in tt.vocab.tokens)
    quote = "⟦{}⟧".format
    for text in (wi.describe(hostile, "course", quote=quote),
                 wi.describe_at(wi.decisive_step(), hostile, quote=quote)):
        assert re.search(r"⟦\*\*[a-m]\*\*<b>⟧", text) and "'**" not in text


def test_the_cell_figure_escapes_the_token_for_plotly(tmp_path):
    _, tt, _, _ = setup("emb1", False, tmp_path)
    card = step_card(tt, 2, 0)
    fig = cell_figure(card.terms, "course", "<b>x</b>", 2, 0)
    x = next(a.text for a in fig.layout.annotations if a.name == "x")
    assert "<b>" not in x and "&lt;b&gt;x&lt;/b&gt;" in x


# ---- the reset gate --------------------------------------------------------------------------

@pytest.mark.parametrize("reset_after", [False, True], ids=["reset_before", "reset_after"])
def test_reset_counterfactual_in_the_models_own_formula(reset_after, tmp_path):
    model, tt, ref, one_hot = setup("emb2", reset_after, tmp_path)
    keras_h = keras_layers_out(model, TEXT, one_hot)
    xs, t, H = ref.inputs(TEXT), 12, 13
    k, rk, b = ref.cells[0]
    h_prev = np.float64(keras_h[0][t - 1])
    g = ref.step(0, xs[t], h_prev)
    hidden = h_prev @ rk[:, 2 * H :] + (b[1][2 * H :] if reset_after else 0)  # r = 1
    n1 = np.tanh(g["in"] + hidden)
    cf = reset_counterfactual(tt, t, 0)
    np.testing.assert_allclose(cf.n_no_reset.double().numpy(), n1, atol=ATOL, rtol=0)
    np.testing.assert_allclose(cf.n.double().numpy(), g["n"], atol=ATOL, rtol=0)
    other = g["lecture_n"] if reset_after else g["pytorch_n"]
    np.testing.assert_allclose(cf.n_other.double().numpy(), other, atol=ATOL, rtol=0)
    h = g["z"] * h_prev + (1 - g["z"]) * n1
    h1 = ref.step(1, h, np.float64(keras_h[1][t - 1]))["h"]
    np.testing.assert_allclose(cf.probs_no_reset.double().numpy(), ref.probs(h1), atol=ATOL,
                               rtol=0)


# ---- the gradient ----------------------------------------------------------------------------

@pytest.mark.parametrize("reset_after", [False, True], ids=["reset_before", "reset_after"])
def test_jacobian_norms_differentiate_the_models_own_step(reset_after, tmp_path):
    from gru_core import jacobian_norms
    model, tt, ref, _ = setup("emb1", reset_after, tmp_path)
    k, rk, b = (torch.tensor(w) for w in ref.cells[0])  # float64, Keras's variables
    H, xs = 13, torch.tensor(ref.inputs(TEXT))

    def keras_step(h, x):  # Keras's equations in torch float64, columns z | r | h
        if reset_after:
            mx, mh = x @ k + b[0], h @ rk + b[1]
            z, r = torch.sigmoid(mx[:H] + mh[:H]), torch.sigmoid(mx[H:2 * H] + mh[H:2 * H])
            n = torch.tanh(mx[2 * H:] + r * mh[2 * H:])
        else:
            mx, mi = x @ k + b, h @ rk[:, :2 * H]
            z, r = torch.sigmoid(mx[:H] + mi[:H]), torch.sigmoid(mx[H:2 * H] + mi[H:])
            n = torch.tanh(mx[2 * H:] + (r * h) @ rk[:, 2 * H:])
        return z * h + (1 - z) * n

    t, since = 20, 10
    J = torch.eye(H, dtype=torch.float64)
    want = [float(J.norm())]  # s = t: the identity
    for s in range(t, since, -1):  # ∂h_t/∂h_s = A_t … A_{s+1}, at Keras's own states
        h_prev = tt.gate("h_prev", 0, 0, s).double()
        J = J @ torch.autograd.functional.jacobian(lambda h, s=s: keras_step(h, xs[s]), h_prev)
        want.append(float(J.norm()))
    got = jacobian_norms(tt, t, since=since)
    np.testing.assert_allclose(got.double().numpy(), want[::-1], rtol=1e-4, atol=1e-7)


# ---- the worked example ----------------------------------------------------------------------

def test_worked_post_of_a_reset_before_model_writes_its_own_candidate(tmp_path):
    from dashboard.post import step_latex, worked_post
    from gru_core import worked_example
    _, tt, _, _ = setup("emb1", False, tmp_path)
    ex = worked_example(tt, [4, 5], [0, 7])
    assert ex.convention == "keras-reset-before"
    for notation, own in (("pytorch", r"\tanh(in + W_{hn}(r \odot h_{prev}))"),
                          ("course", r"\tanh(\text{input part} + W_c(\Gamma_r \odot "
                                     r"c^{\langle 4\rangle}))")):
        block = step_latex(ex, 1, notation)
        assert own in block and r"\cdot hn" not in block
        for u in (0, 7):
            n, i, hn = (float(tt.gate(k, 0, 0, 5)[u]) for k in ("n", "in", "hn"))
            assert f"{i:.4f}".lstrip("-") in block and f"{hn:.4f}".lstrip("-") in block
            assert f"= {n:.4f}" in block
        post = worked_post(ex, "m", tt.text, "http://x", notation)
        assert "Whose numbers: Keras 3 GRU (reset\\_after=False" in post
        assert ("which this model computes" in post) == (notation == "course")
