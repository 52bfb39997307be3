"""The analyses, each against an independent computation."""

import numpy as np
import pytest
import torch

from gru_core import (
    course_bias,
    course_candidate,
    fractions,
    jacobian_norms,
    recompute,
    retention,
    retention_curve,
    saturation,
    single_layer,
)

from ..conftest import make_gru


@pytest.fixture
def bi_trace():
    gru = make_gru(6, 12, layers=2, bidirectional=True, dtype=torch.float64, scale=3.0)
    return gru, recompute(gru, torch.randn(40, 6, dtype=torch.float64))


def test_saturation_matches_counting_by_hand(bi_trace):
    gru, tr = bi_trace
    df = saturation(tr, low=0.2, high=0.8)
    assert list(df.columns) == ["gate", "layer", "direction", "unit", "left", "right"]
    assert len(df) == 2 * 2 * 2 * 12  # gates x layers x directions x units
    for _, row in df.sample(20, random_state=0).iterrows():
        values = tr.gate(row.gate, row.layer, row.direction)[:, row.unit].numpy()
        assert row.left == pytest.approx(np.mean(values < 0.2))
        assert row.right == pytest.approx(np.mean(values > 0.8))
    f = fractions(tr, "z", layer=1, low=0.2, high=0.8)
    allz = torch.cat([tr.gate("z", 1, 0), tr.gate("z", 1, 1)]).numpy()
    assert f["below"] == pytest.approx(np.mean(allz < 0.2))
    assert f["above"] == pytest.approx(np.mean(allz > 0.8))
    assert sum(f.values()) == pytest.approx(1.0)


def test_retention_is_the_product_of_z(bi_trace):
    _, tr = bi_trace
    z = tr.gate("z", 1, 0).numpy()
    expected = np.ones(12)
    for k in range(6, 16):
        expected *= z[k]
    np.testing.assert_allclose(retention(tr, 5, 15, layer=1), expected, rtol=1e-12)
    zr = tr.gate("z", 0, 1).numpy()
    np.testing.assert_allclose(retention(tr, 30, 20, layer=0, direction=1),
                               np.prod(zr[20:30], axis=0), rtol=1e-12)
    assert torch.equal(retention(tr, 7, 7), torch.ones(12, dtype=torch.float64))
    with pytest.raises(ValueError):
        retention(tr, 9, 3)
    with pytest.raises(IndexError):
        retention(tr, 0, 40)


@pytest.mark.parametrize("layer", [0, 1])
def test_jacobian_norms_match_autograd_through_nn_gru(layer):
    gru = make_gru(5, 10, layers=2, dtype=torch.float64, scale=2.0, seed=3)
    x = torch.randn(30, 5, dtype=torch.float64)
    t = 20
    norms = jacobian_norms(recompute(gru, x[: t + 1]), t, layer=layer)
    assert norms.shape == (t + 1,)
    assert norms[t] == pytest.approx(10 ** 0.5)
    # independently: run nn.GRU itself from h_s over x_{s+1..t} and differentiate
    with torch.no_grad():
        inputs = x if layer == 0 else single_layer(gru, 0)(x)[0]
        one = single_layer(gru, layer)
        hs = one(inputs)[0]
    for s in (0, 7, 19):
        def h_t(h_s, s=s):
            return one(inputs[s + 1 : t + 1], h_s.unsqueeze(0))[1][0]

        J = torch.autograd.functional.jacobian(h_t, hs[s])
        assert norms[s] == pytest.approx(J.norm().item(), rel=1e-9)
    # a trace of the whole text, passed in, gives the same numbers; `since` cuts the front.
    # Not bit for bit across the two traces: nn.GRU's own input product for layer 1 rounds
    # differently over 21 steps than over 30 (MKL blocks by T), so h differs in the last bits.
    whole = recompute(gru, x)
    full = jacobian_norms(whole, t, layer=layer)
    torch.testing.assert_close(full, norms, rtol=1e-12, atol=0)
    assert torch.equal(jacobian_norms(whole, t, layer=layer, since=12), full[12:])


def test_course_notation(bi_trace):
    gru, tr = bi_trace
    layer, d = 1, 1
    sd = gru.state_dict()
    W_in, W_hn = sd["weight_ih_l1_reverse"][24:], sd["weight_hh_l1_reverse"][24:]
    b_c = sd["bias_ih_l1_reverse"][24:] + sd["bias_hh_l1_reverse"][24:]
    W_c = torch.cat([W_hn, W_in], dim=1)  # the course's W_c acting on [Γr ⊙ c<t−1>, x<t>]
    r, h_prev, x = tr.gate("r", layer, d), tr.gate("h_prev", layer, d), tr.layer_inputs[layer]
    expected = torch.tanh(torch.cat([r * h_prev, x], dim=1) @ W_c.t() + b_c)
    torch.testing.assert_close(course_candidate(tr, layer, d), expected)
    window = course_candidate(tr, layer, d, steps=slice(3, 5))
    torch.testing.assert_close(window, expected[3:5])
    assert not torch.allclose(expected, tr.gate("n", layer, d))  # the two candidates differ
    torch.testing.assert_close(course_bias(tr, "r", 0, 0),
                               sd["bias_ih_l0"][:12] + sd["bias_hh_l0"][:12])
    assert course_bias(recompute(make_gru(3, 4, bias=False), torch.randn(2, 3)), "r") is None


def test_retention_curve_rows_are_retentions(bi_trace):
    _, tr = bi_trace
    curve = retention_curve(tr, 25, layer=1, since=10)
    assert curve.shape == (16, 12)
    for k in (0, 7, 15):
        torch.testing.assert_close(curve[k], retention(tr, 10 + k, 25, layer=1))


def test_jacobian_norms_since_is_the_tail_of_the_full_curve():
    gru = make_gru(5, 10, dtype=torch.float64, scale=2.0)
    x = torch.randn(30, 5, dtype=torch.float64)
    tr = recompute(gru, x)
    full = jacobian_norms(tr, 25)
    torch.testing.assert_close(jacobian_norms(tr, 25, since=12), full[12:])
    with pytest.raises(IndexError):
        jacobian_norms(tr, 30)


def test_rnn_jacobian_norms_match_autograd_through_nn_rnn():
    """The course's contrast: the same curve for a plain nn.RNN checkpoint."""
    from gru_core import GRUConfig, TokenGRU, Vocab, rnn_jacobian_norms
    from gru_core.core.checkpoint import Checkpoint

    torch.manual_seed(1)
    vocab = Vocab(tuple("abcde "))
    module = TokenGRU(GRUConfig(6, 12), cell="rnn").double()
    ck = Checkpoint(module.config, vocab, module)
    text, t = "abc de ab cd eab", 13
    norms = rnn_jacobian_norms(ck, text, t, since=2)
    x = module.inputs(vocab.encode(text))
    with torch.no_grad():
        hs = module.rnn(x)[0]
    for s in (2, 7, 12):
        J = torch.autograd.functional.jacobian(
            lambda h, s=s: module.rnn(x[s + 1 : t + 1], h.unsqueeze(0))[1][0], hs[s])
        assert norms[s - 2] == pytest.approx(J.norm().item(), rel=1e-9)
    assert norms[-1] == pytest.approx(12 ** 0.5)
    with pytest.raises(ValueError, match="plain RNN"):
        ck.trace(text)
