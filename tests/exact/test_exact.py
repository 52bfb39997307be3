"""Bit for bit at the caller's own settings: the trace against nn.GRU run in the test at the same
thread count, and every gate against nn.GRU's cell replayed operation for operation."""

import itertools
import threading

import pytest
import torch

from gru_core import GATES, recompute
from gru_core.core import schedule
from gru_core.core import trace as trace_mod

from ..conftest import make_gru
from ..reference import gru_cell_steps

SIZES = (1, 33, 100, 130, 256)


def _inputs(kind: str, T: int, width: int, dtype=torch.float32) -> torch.Tensor:
    if kind == "dense":
        return torch.randn(T, width, dtype=dtype)
    return torch.nn.functional.one_hot(torch.randint(0, width, (T,)), width).to(dtype)


@pytest.mark.parametrize("H, layers, kind",
                         list(itertools.product(SIZES, (1, 2), ("one-hot", "dense"))))
def test_output_and_h_n_are_the_callers_own(threads, H, layers, kind):
    gru = make_gru(7, H, layers=layers, seed=H + layers)
    for T in (10, 40, 600):  # short texts too: MKL splits small products by thread differently
        x = _inputs(kind, T, 7)
        with torch.no_grad():
            out, h_n = gru(x)
        tr = recompute(gru, x)
        assert torch.get_num_threads() == threads
        assert torch.equal(tr.output, out), (T, (tr.output - out).abs().max())
        assert torch.equal(tr.h_n, h_n)


@pytest.mark.parametrize("H, layers, kind, bidirectional", [
    *itertools.product(SIZES, (1, 2), ("one-hot", "dense"), (False,)),
    *itertools.product((33, 100), (2,), ("one-hot", "dense"), (True,)),
])
def test_every_gate_is_nn_grus_own(threads, H, layers, kind, bidirectional):
    gru = make_gru(7, H, layers=layers, bidirectional=bidirectional, seed=H)
    x = _inputs(kind, 300, 7)
    h0 = torch.randn(layers * (2 if bidirectional else 1), H)
    tr = recompute(gru, x, h0)
    with torch.no_grad():
        out, _ = gru(x, h0)
    assert torch.equal(tr.output, out)
    for layer, d in tr.layer_directions:
        D = tr.config.num_directions
        ref = gru_cell_steps(gru, tr.layer_inputs[layer], layer, d, h0[layer * D + d])
        assert torch.equal(ref["h"], tr.gate("h", layer, d))  # the replay is nn.GRU's own run
        for name in GATES:
            assert torch.equal(tr.gate(name, layer, d), ref[name]), (layer, d, name)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("H", [12, 48, 100])
def test_step_by_step_path_is_exact_too(monkeypatch, threads, dtype, H):
    """Where one thread would give other bits than the caller's (not on every CPU), nn.GRU runs
    at the caller's setting and the hidden products are redone one step at a time."""
    monkeypatch.setattr(schedule, "same_bits_on_one_core", lambda *a: threads == 1)
    gru = make_gru(7, H, layers=2, dtype=dtype, seed=2)
    x = _inputs("one-hot", 200, 7, dtype)
    tr = recompute(gru, x)
    with torch.no_grad():
        out, h_n = gru(x)
    assert torch.equal(tr.output, out) and torch.equal(tr.h_n, h_n)
    for layer in (0, 1):
        ref = gru_cell_steps(gru, tr.layer_inputs[layer], layer)
        for name in GATES:
            assert torch.equal(tr.gate(name, layer), ref[name]), (layer, name)


def test_float64_output_and_gates_are_bitwise_too(threads):
    gru = make_gru(7, 130, layers=2, dtype=torch.float64, seed=9)
    x = _inputs("dense", 257, 7, torch.float64)
    tr = recompute(gru, x)
    with torch.no_grad():
        out, h_n = gru(x)
    assert torch.equal(tr.output, out) and torch.equal(tr.h_n, h_n)
    ref = gru_cell_steps(gru, tr.layer_inputs[1], 1)
    assert all(torch.equal(tr.gate(k, 1), ref[k]) for k in GATES)


def test_the_probe_tells_one_core_from_the_callers_setting():
    """It compares nn.GRU's bits on one thread and on the caller's: here, a module whose run
    depends on the thread count must be caught."""
    class ThreadBits(torch.nn.GRU):
        def forward(self, x, h=None):
            out, h_n = super().forward(x, h)
            return out + torch.get_num_threads() * 1e-3, h_n

    assert not schedule.same_bits_on_one_core(ThreadBits(5, 8), 2, schedule.pools()[0])


def _every_term_is_nn_grus(gru, x, h0, tr) -> None:
    with torch.no_grad():
        out, h_n = gru(x, h0)
    assert torch.equal(tr.output, out) and torch.equal(tr.h_n, h_n)
    D = tr.config.num_directions
    for layer, d in tr.layer_directions:
        ref = gru_cell_steps(gru, tr.layer_inputs[layer], layer, d, h0[layer * D + d])
        for name in GATES:
            assert torch.equal(tr.gate(name, layer, d), ref[name]), (layer, d, name)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind", ["one-hot", "dense"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_directions_and_layers_run_beside_each_other_bitwise(monkeypatch, threads, dtype, kind,
                                                             bidirectional):
    """Each direction's nn.GRU on a core of its own, block by block, with the gates (and the
    layer below's) computed beside it: small blocks, so that short texts cross many of them."""
    monkeypatch.setattr(schedule, "CHUNK", 16)
    ran, beside, stacked = [], schedule.beside, schedule.stacked

    def recorded(sd, layer, *rest):  # one layer, its directions beside each other
        h_n = beside(sd, layer, *rest)
        ran.append((layer, h_n is not None))
        return h_n

    def recorded_stacked(*args):  # one direction, its layers beside each other
        got = stacked(*args)
        ran.append((0, len(got[0]) > 0))  # layer 0 kept
        return got

    monkeypatch.setattr(schedule, "beside", recorded)
    monkeypatch.setattr(schedule, "stacked", recorded_stacked)
    gru = make_gru(7, 33, layers=2, bidirectional=bidirectional, dtype=dtype, seed=5)
    probe = schedule.same_bits_on_one_core(trace_mod.single_layer(gru, 0), threads,
                                           schedule.pools()[0])
    for T in (1, 15, 16, 17, 100):
        x = _inputs(kind, T, 7, dtype)
        h0 = torch.randn(2 * (2 if bidirectional else 1), 33, dtype=dtype)
        tr = recompute(gru, x, h0)
        _every_term_is_nn_grus(gru, x, h0, tr)
    if threads == 1 or probe:  # the path under test ran; one-hot blocks never fall back
        assert ran and all(kept for layer, kept in ran if layer == 0 and kind == "one-hot")


def test_the_layers_of_one_direction_run_side_by_side_a_block_apart(monkeypatch, threads):
    """Layer 1's block k runs once layer 0's block k has ended, not once all of layer 0 has:
    its first block starts before layer 0's last one ends, and every term is nn.GRU's."""
    monkeypatch.setattr(schedule, "CHUNK", 16)
    events, block = [], schedule._block

    def recorded(run, part, steps, h):
        events.append(("start", part, steps.start))
        got = block(run, part, steps, h)
        events.append(("end", part, steps.start))
        return got

    monkeypatch.setattr(schedule, "_block", recorded)
    gru = make_gru(7, 33, layers=2, seed=5)
    x, h0 = _inputs("one-hot", 160, 7), torch.randn(2, 33)
    tr = recompute(gru, x, h0)
    _every_term_is_nn_grus(gru, x, h0, tr)
    probe = schedule.same_bits_on_one_core(trace_mod.single_layer(gru, 0), threads,
                                           schedule.pools()[0])
    if threads == 1 or probe:  # else nn.GRU ran at the caller's setting, as it must
        below, above = tr.parts[(0, 0)], tr.parts[(1, 0)]
        first_above = next(i for i, (what, part, _) in enumerate(events)
                           if what == "start" and part is above)
        last_below = events.index(("end", below, 144))
        assert first_above < last_below, events
        assert [at for what, part, at in events if what == "start" and part is above] == \
            list(range(0, 160, 16))  # every block of layer 1 once, in order


@pytest.mark.parametrize("cores", [2, 8])
@pytest.mark.parametrize("layers, bidirectional", [(1, True), (2, False), (2, True)])
def test_the_gates_take_no_core_from_the_recurrences(monkeypatch, threads, cores, layers,
                                                     bidirectional):
    """Two recurrences at once (two directions, or two layers side by side) on two cores: the
    gates wait in the recurrences' queue, between their blocks, rather than share a core with
    them; with cores to spare they run on the gate pool. Every term is nn.GRU's either way."""
    monkeypatch.setattr(schedule, "CHUNK", 16)
    monkeypatch.setattr(schedule.os, "cpu_count", lambda: cores)
    where, fill = [], trace_mod._Terms.fill

    def recorded(self, steps, step_by_step=False):
        where.append(threading.current_thread().name.rsplit("_", 1)[0])
        fill(self, steps, step_by_step)

    monkeypatch.setattr(trace_mod._Terms, "fill", recorded)
    gru = make_gru(7, 33, layers=layers, bidirectional=bidirectional, seed=7)
    x = _inputs("one-hot", 100, 7)
    h0 = torch.randn(layers * (2 if bidirectional else 1), 33)
    tr = recompute(gru, x, h0)
    _every_term_is_nn_grus(gru, x, h0, tr)
    probe = schedule.same_bits_on_one_core(trace_mod.single_layer(gru, 0), threads,
                                           schedule.pools()[0])
    if threads == 1 or probe:  # else nn.GRU ran at the caller's setting, the gates after it
        assert set(where) == {"gru-recurrence" if cores == 2 else "gru-gates"}, where


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("after", [0, 3])
def test_a_block_whose_input_product_differs_runs_the_layer_at_the_callers_setting(
        monkeypatch, threads, bidirectional, after):
    """Dense input: if one thread's product of a block is not the caller's (MKL's product can
    depend on the number of rows), the blocks are dropped and the layer runs as the caller's."""
    monkeypatch.setattr(schedule, "CHUNK", 16)
    seen, check = [], trace_mod._Terms.check

    def differs_after(self, x_run, at, wrong):
        seen.append(at)
        check(self, x_run, at, wrong)
        if len(seen) > after:
            wrong.set()

    monkeypatch.setattr(trace_mod._Terms, "check", differs_after)
    gru = make_gru(7, 33, layers=2, bidirectional=bidirectional, seed=6)
    x, h0 = _inputs("dense", 200, 7), torch.randn(4 if bidirectional else 2, 33)
    _every_term_is_nn_grus(gru, x, h0, recompute(gru, x, h0))
    assert seen or threads == 2  # at 2 threads the probe may already have chosen the caller's
