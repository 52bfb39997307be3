"""recompute() against nn.GRU itself: output bitwise, gates consistent with PyTorch's equations."""

import pytest
import torch

from gru_core import GATES, config_of, layer_weights, recompute, step

from ..conftest import CONFIGS, config_id, make_gru


def _run(config, hidden=16, input_size=7, T=29, with_h0=False):
    dtype, layers, bi, bias, scale = config
    gru = make_gru(input_size, hidden, layers, bi, bias, dtype, scale, seed=layers + 10 * bi)
    x = torch.randn(T, input_size, dtype=dtype)
    h0 = torch.randn(layers * (2 if bi else 1), hidden, dtype=dtype) if with_h0 else None
    with torch.no_grad():
        out, h_n = gru(x, h0)
    return gru, x, h0, out, h_n, recompute(gru, x, h0)


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
@pytest.mark.parametrize("with_h0", [False, True], ids=["zero-h0", "h0"])
def test_output_matches_nn_gru(config, with_h0):
    gru, x, h0, out, h_n, tr = _run(config, with_h0=with_h0)
    assert tr.output.shape == out.shape and tr.h_n.shape == h_n.shape
    assert torch.equal(tr.output, out) and torch.equal(tr.h_n, h_n)


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_equations_hold_for_every_layer_and_direction(config):
    gru, x, h0, out, h_n, tr = _run(config, with_h0=True)
    tol = 1e-6 if config[0] == torch.float32 else 1e-12
    D = tr.config.num_directions
    L = tr.config.num_layers
    assert set(tr.layer_directions) == {(la, d) for la in range(L) for d in range(D)}
    for (layer, d) in tr.layer_directions:
        g = {k: tr.gate(k, layer, d) for k in GATES}
        assert all(v.shape == (x.shape[0], 16) for v in g.values())
        torch.testing.assert_close(g["r"], torch.sigmoid(g["ir"] + g["hr"]), atol=tol, rtol=0)
        torch.testing.assert_close(g["z"], torch.sigmoid(g["iz"] + g["hz"]), atol=tol, rtol=0)
        torch.testing.assert_close(g["n"], torch.tanh(g["in"] + g["r"] * g["hn"]), atol=tol, rtol=0)
        h = (1 - g["z"]) * g["n"] + g["z"] * g["h_prev"]
        torch.testing.assert_close(h, g["h"], atol=tol, rtol=0)
        # h is nn.GRU's own output for that layer and direction (top layer checked directly)
        if layer == tr.config.num_layers - 1:
            assert torch.equal(g["h"], out[:, d * 16 : (d + 1) * 16])


def test_saturated_gates_really_saturate():
    gru, x, *_ , tr = _run((torch.float32, 1, False, True, 20.0))
    z = tr.gate("z")
    assert ((z < 1e-3) | (z > 1 - 1e-3)).double().mean() > 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("hidden, T", [(32, 200), (33, 300), (100, 200), (128, 2500), (256, 200)])
def test_gates_are_bitwise_pytorchs_own(dtype, hidden, T):
    """With PyTorch's own update formula, our gates give back nn.GRU's output bit for bit, for
    hidden sizes that fill the vector registers and for those that leave a scalar tail."""
    gru = make_gru(65, hidden, layers=2, dtype=dtype, seed=hidden)
    x = torch.nn.functional.one_hot(torch.randint(0, 65, (T,)), 65).to(dtype)  # T > CHUNK too
    with torch.no_grad():
        out, _ = gru(x)
    tr = recompute(gru, x)
    for layer in (0, 1):
        g = {k: tr.gate(k, layer) for k in ("h_prev", "n", "z", "h")}
        assert torch.equal((g["h_prev"] - g["n"]) * g["z"] + g["n"], g["h"])
    assert torch.equal(tr.output, out)


def test_term_is_the_name_and_gate_its_alias():
    """h, h_prev and ir .. hn are terms, not gates: Trace.term reads them, and gate, the older
    name every caller may still use, reads the same numbers."""
    gru = make_gru(7, 12, layers=2, bidirectional=True, seed=4)
    x = torch.randn(15, 7)
    tr = recompute(gru, x)
    assert type(tr).gate is type(tr).term
    for name in GATES:
        assert torch.equal(tr.term(name, 1, 1, steps=slice(2, 9)), tr.gate(name, 1, 1)[2:9])
    with pytest.raises(KeyError, match="unknown term"):
        tr.term("c")


@pytest.mark.parametrize("bias", [True, False])
def test_one_hot_input_terms_and_step_ranges(bias):
    """For one-hot x the input terms are looked up, not stored: they must still be exactly
    W_ih x + b_ih, and any range of steps must read the same numbers as the whole."""
    gru = make_gru(9, 32, layers=2, bias=bias, seed=3)
    x = torch.nn.functional.one_hot(torch.randint(0, 9, (2100,)), 9).float()
    tr = recompute(gru, x)
    gi = torch.nn.functional.linear(x, gru.weight_ih_l0, gru.bias_ih_l0 if bias else None)
    for k, name in enumerate(("ir", "iz", "in")):
        assert torch.equal(tr.gate(name), gi[:, k * 32 : (k + 1) * 32])
    for layer in (0, 1):
        for name in GATES:
            whole = tr.gate(name, layer)
            for steps in (slice(1000, 1100), 2099, torch.tensor([5, 3, 2000])):
                assert torch.equal(tr.gate(name, layer, steps=steps), whole[steps])
    # h, h_prev and the output share one buffer: the trace keeps no second copy of h
    ptr = tr.output.untyped_storage().data_ptr()
    assert tr.gate("h", 1).untyped_storage().data_ptr() == ptr
    assert tr.gate("h_prev", 1).untyped_storage().data_ptr() == ptr


def test_reverse_direction_is_indexed_by_input_position():
    gru, x, h0, out, h_n, tr = _run((torch.float64, 1, True, True, 1.0), with_h0=True)
    h, h_prev = tr.gate("h", 0, 1), tr.gate("h_prev", 0, 1)
    assert torch.equal(h, out[:, 16:])
    assert torch.equal(h_prev[:-1], h[1:])  # the reverse pass reaches t from t + 1
    assert torch.equal(h_prev[-1], h0[1])  # and starts at the last position from h0
    assert torch.equal(h[0], h_n[1])
    # position t read x_t: recompute the reverse step at t = 3 from nn.GRU's own numbers
    t = 3
    ref = step(x[t], h[t + 1], layer_weights(gru, 0, 1))
    torch.testing.assert_close(ref["h"], h[t], atol=1e-12, rtol=0)


@pytest.mark.parametrize("config", CONFIGS[::3], ids=config_id)
def test_step_agrees_with_trace(config):
    gru, x, h0, out, h_n, tr = _run(config, with_h0=True)
    # step() sums W @ v in another order than nn.GRU's kernel; with x20 weights the
    # pre-activations reach ~50, so float32 rounding alone moves a steep tanh by ~2e-6.
    tol = (1e-6 if config[0] == torch.float32 else 1e-12) * (10 if config[4] > 1 else 1)
    for (layer, d) in tr.layer_directions:
        w = layer_weights(gru, layer, d)
        for t in (0, 11, x.shape[0] - 1):
            got = step(tr.layer_inputs[layer][t], tr.gate("h_prev", layer, d)[t], w)
            for name in GATES:  # pre-activations grow with the weights: compare those relatively
                rtol = tol if name in ("ir", "hr", "iz", "hz", "in", "hn") else 0
                want = tr.gate(name, layer, d)[t]
                torch.testing.assert_close(got[name], want, atol=tol, rtol=rtol)


def test_state_dict_and_checkpoint_keys_work_like_the_module():
    gru = make_gru(4, 8, layers=2, bidirectional=True, bias=False)
    x = torch.randn(10, 4)
    a = recompute(gru, x)
    b = recompute(gru.state_dict(), x)
    c = recompute({"gru." + k: v for k, v in gru.state_dict().items()}, x)
    assert torch.equal(a.output, b.output) and torch.equal(a.output, c.output)
    cfg = config_of(gru.state_dict())
    assert (cfg.input_size, cfg.hidden_size, cfg.num_layers, cfg.bidirectional, cfg.bias) == (
        4, 8, 2, True, False)


def test_bad_inputs_raise_clear_errors():
    gru = make_gru(4, 8)
    tr = recompute(gru, torch.randn(5, 4))
    with pytest.raises(ValueError, match="x must be"):
        recompute(gru, torch.randn(5, 3))
    with pytest.raises(ValueError, match="x must be"):
        recompute(gru, torch.randn(0, 4))
    with pytest.raises(KeyError, match="unknown term"):
        tr.gate("q")
    with pytest.raises(KeyError, match="no layer 1"):
        tr.gate("r", layer=1)
    with pytest.raises(ValueError, match="not an nn.GRU"):
        recompute({"weight": torch.zeros(2)}, torch.randn(5, 4))


def test_bidirectional_gates_are_bitwise_across_chunks():
    gru = make_gru(11, 64, layers=2, bidirectional=True, seed=5)
    x = torch.nn.functional.one_hot(torch.randint(0, 11, (1500,)), 11).float()
    with torch.no_grad():
        out, h_n = gru(x)
    tr = recompute(gru, x)
    assert torch.equal(tr.output, out) and torch.equal(tr.h_n, h_n)
    for layer in (0, 1):
        for d in (0, 1):
            g = {k: tr.gate(k, layer, d) for k in ("h_prev", "n", "z", "h")}
            assert torch.equal((g["h_prev"] - g["n"]) * g["z"] + g["n"], g["h"])


def test_recompute_gives_torchs_thread_count_back():
    """recompute runs nn.GRU and the gates on one core each, then restores the thread count,
    for this thread and for threads started later."""
    import threading

    gru = make_gru(9, 32, seed=4)
    x = torch.nn.functional.one_hot(torch.randint(0, 9, (2500,)), 9).float()
    before = torch.get_num_threads()
    recompute(gru, x)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    assert torch.get_num_threads() == before and seen == [before]
