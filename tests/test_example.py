"""The worked example (issue 21): its numbers against plain nn.GRUCell, its post, its links."""

import numpy as np
import pytest
import torch

from gru_core import recompute, worked_example

from .conftest import make_gru


@torch.no_grad()
def cell_terms(gru: torch.nn.GRU, x: torch.Tensor, t: int) -> dict[str, torch.Tensor]:
    """Every term at step t, by nn.GRUCell with the GRU's layer-0 weights and the equations."""
    cell = torch.nn.GRUCell(gru.input_size, gru.hidden_size, bias=gru.bias).to(x.dtype)
    cell.load_state_dict({k[:-3]: v for k, v in gru.state_dict().items() if k.endswith("_l0")})
    h = x.new_zeros(gru.hidden_size)
    for s in range(t):
        h = cell(x[s], h)
    W_ir, W_iz, W_in = cell.weight_ih.chunk(3)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3)
    zero = x.new_zeros(3 * gru.hidden_size)
    b_ir, b_iz, b_in = (cell.bias_ih if gru.bias else zero).chunk(3)
    b_hr, b_hz, b_hn = (cell.bias_hh if gru.bias else zero).chunk(3)
    ir, iz, in_ = W_ir @ x[t] + b_ir, W_iz @ x[t] + b_iz, W_in @ x[t] + b_in
    hr, hz, hn = W_hr @ h + b_hr, W_hz @ h + b_hz, W_hn @ h + b_hn
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(in_ + r * hn)
    return {"h_prev": h, "ir": ir, "hr": hr, "r": r, "iz": iz, "hz": hz, "z": z, "in": in_,
            "hn": hn, "n": n, "keep": z * h, "new": (1 - z) * n, "h": cell(x[t], h)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1.0, 20.0])  # x20: saturated gates
@pytest.mark.parametrize("bias", [True, False])
def test_worked_example_matches_grucell(dtype, scale, bias):
    gru = make_gru(input_size=5, hidden=8, bias=bias, dtype=dtype, scale=scale, seed=3)
    x = torch.randn(12, 5, generator=torch.Generator().manual_seed(1), dtype=dtype)
    steps, units = [4, 5, 11], [0, 3, 7]
    ex = worked_example(recompute(gru, x), steps, units)
    # GRUCell sums in another order than nn.GRU: float32 rounding, grown by x20 weights
    tol = (1e-6 if dtype == torch.float32 else 1e-12) * scale
    with torch.no_grad():
        out, _ = gru(x)
    for t, table in zip(steps, ex.tables, strict=True):
        ref = cell_terms(gru, x, t)
        # h is nn.GRU's own output, bit for bit
        np.testing.assert_array_equal(table.h.to_numpy(), out[t, units].double().numpy())
        assert table.unit.tolist() == units
        for k, v in ref.items():
            np.testing.assert_allclose(table[k].to_numpy(), v[units].double().numpy(),
                                       atol=tol, rtol=0, err_msg=f"t={t} {k}")
        # the kept and new parts add up to h (up to float32's rounding of the split form)
        np.testing.assert_allclose(table.keep + table.new, table.h, atol=tol * 10)


def test_worked_example_sentences_follow_each_row():
    gru = make_gru(hidden=6, scale=20.0, seed=2)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    ex = worked_example(recompute(gru, x), [2, 3], [0, 1, 5])
    for i, table in enumerate(ex.tables):
        for line, row in zip(ex.sentences(i), table.itertuples(), strict=True):
            assert line.startswith(f"unit {row.unit}: z = {row.z:.2f}")
            if row.z > 0.9:
                assert "keeps" in line
            elif row.z < 0.1:
                assert "takes the candidate" in line
            else:
                assert f"{row.z:.0%} kept" in line


def test_worked_example_refuses_what_it_cannot_show():
    tr = recompute(make_gru(hidden=4), torch.randn(3, 5))
    for steps, units in (([], [0]), ([0], []), ([3], [0]), ([0], [4]), (list(range(3)) * 4, [0])):
        with pytest.raises(ValueError):
            worked_example(tr, steps, units)
