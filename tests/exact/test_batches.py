"""recompute() on every call nn.GRU takes: batches, batch_first, PackedSequence, h0 in both
layouts. Output and h_n against the caller's nn.GRU run here, every gate of every sequence
against nn.GRU's cell replayed on the whole batch, at 1 and 2 threads."""

import itertools
import re
import warnings

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence

from gru_core import GATES, recompute

from ..conftest import make_gru
from ..reference import gru_cell_steps_batch

LAYOUTS = ("batch", "batch_first", "packed", "packed_sorted", "packed_list")


def _gru(H, layers, bi, dtype, batch_first=False, seed=0, scale=1.0):
    gru = make_gru(6, H, layers=layers, bidirectional=bi, dtype=dtype, seed=seed, scale=scale)
    if batch_first:
        own = torch.nn.GRU(6, H, num_layers=layers, bidirectional=bi, batch_first=True).to(dtype)
        own.load_state_dict(gru.state_dict())
        gru = own
    return gru.eval()


def _call(layout, T, B, dtype, gen):
    """The input a user would pass, and each sequence's length in the caller's order."""
    x = torch.randn(T, B, 6, generator=gen, dtype=dtype)
    lengths = torch.randint(1, T + 1, (B,), generator=gen)
    lengths[B // 2] = T
    if layout == "batch":
        return x, [T] * B
    if layout == "batch_first":
        return x.transpose(0, 1).contiguous(), [T] * B
    if layout == "packed":
        return pack_padded_sequence(x, lengths, enforce_sorted=False), lengths.tolist()
    if layout == "packed_sorted":
        lengths = lengths.sort(descending=True).values
        return pack_padded_sequence(x, lengths), lengths.tolist()
    seqs = [x[: int(n), b] for b, n in enumerate(lengths)]  # a list of tensors, as people do
    return pack_sequence(seqs, enforce_sorted=False), lengths.tolist()


def _assert_same_output(tr, out, h_n):
    assert type(tr.output) is type(out)
    if isinstance(out, PackedSequence):
        assert torch.equal(tr.output.data, out.data)
        assert torch.equal(tr.output.batch_sizes, out.batch_sizes)
        for a, b in ((tr.output.sorted_indices, out.sorted_indices),
                     (tr.output.unsorted_indices, out.unsorted_indices)):
            assert (a is None and b is None) or torch.equal(a, b)
    else:
        assert tr.output.shape == out.shape and torch.equal(tr.output, out)
    assert tr.h_n.shape == h_n.shape and torch.equal(tr.h_n, h_n)


def _sorted_h0(x, h0, B, LD, H, dtype):
    h0 = torch.zeros(LD, B, H, dtype=dtype) if h0 is None else h0
    if isinstance(x, PackedSequence) and x.sorted_indices is not None:
        return h0.index_select(1, x.sorted_indices)
    return h0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("layers, bi", [(1, False), (2, False), (1, True), (2, True)],
                         ids=["L1", "L2", "L1-bi", "L2-bi"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("with_h0", [False, True], ids=["zeros", "h0"])
def test_batched_calls_are_bitwise_nn_gru(threads, dtype, layers, bi, layout, with_h0):
    H, T, B, D = 33, 7, 4, 2 if bi else 1
    gen = torch.Generator().manual_seed(layers * 10 + bi + with_h0)
    gru = _gru(H, layers, bi, dtype, batch_first=layout == "batch_first", seed=layers + bi)
    x, lengths = _call(layout, T, B, dtype, gen)
    h0 = torch.randn(layers * D, B, H, generator=gen, dtype=dtype) if with_h0 else None
    with torch.no_grad():
        out, h_n = gru(x, h0)
    tr = recompute(gru, x, h0)
    _assert_same_output(tr, out, h_n)
    assert tr.batch.B == B and list(tr.batch.lengths) == lengths and tr.T == T

    # every gate of every sequence: the cell replayed on the batch, rows as nn.GRU holds them
    sizes = list(tr.batch.sizes)
    hs = _sorted_h0(x, h0, B, layers * D, H, dtype)
    for layer, d in itertools.product(range(layers), range(D)):
        layer_in = x if layer == 0 else tr.layer_inputs[layer]
        if layer == 0 and layout == "batch_first":
            layer_in = x.transpose(0, 1)  # what nn.GRU reads
        elif isinstance(layer_in, PackedSequence):
            layer_in = layer_in.data
        ref = gru_cell_steps_batch(gru, layer_in, sizes, layer, d, hs[layer * D + d])
        if layer == layers - 1:  # the replay is nn.GRU's own run: its h is nn.GRU's
            data = out.data if isinstance(out, PackedSequence) else (
                out.transpose(0, 1) if layout == "batch_first" else out)
            assert torch.equal(data.reshape(-1, D * H)[:, d * H : (d + 1) * H], ref["h"])
        for b in range(B):
            rows = tr.batch.rows(b)
            assert len(rows) == lengths[b]
            for name in GATES:
                got = tr.gate(name, layer, d, batch=b)
                assert got.shape == (lengths[b], H)
                assert torch.equal(got, ref[name][rows]), (name, layer, d, b)
            assert torch.equal(tr.gate("z", layer, d, steps=slice(1, 3), batch=b),
                               ref["z"][rows][1:3])


@pytest.mark.parametrize("H", [8, 33, 100, 256])
@pytest.mark.parametrize("B", [1, 2, 3, 5])
def test_gates_at_every_batch_size_and_width(threads, H, B):
    """The batched product (B x H)(H x 3H) rounds unlike B one-row products, and element-wise
    kernels vectorise over the whole (B, H) block: the trace follows the batch, not the rows."""
    gru = _gru(H, 1, True, torch.float32, seed=H + B, scale=3.0)
    gen = torch.Generator().manual_seed(B)
    x = torch.randn(9, B, 6, generator=gen)
    h0 = torch.randn(2, B, H, generator=gen)
    tr = recompute(gru, x, h0)
    with torch.no_grad():
        _assert_same_output(tr, *gru(x, h0))
    for d in (0, 1):
        ref = gru_cell_steps_batch(gru, x, [B] * 9, 0, d, h0[d])
        for b in range(B):
            for name in GATES:
                assert torch.equal(tr.gate(name, 0, d, batch=b), ref[name][b::B])


def test_h0_in_both_layouts_for_one_sequence():
    gru = _gru(16, 2, True, torch.float32)
    x, h0 = torch.randn(5, 6), torch.randn(4, 16)
    with torch.no_grad():
        out, h_n = gru(x, h0)
    for given in (h0, h0.unsqueeze(1)):  # (L*D, H) and nn.GRU's batched (L*D, 1, H)
        tr = recompute(gru, x, given)
        assert torch.equal(tr.output, out) and torch.equal(tr.h_n, h_n) and tr.batch is None
    batched = recompute(gru, x.unsqueeze(1), h0.unsqueeze(1))  # a batch of one
    with torch.no_grad():
        _assert_same_output(batched, *gru(x.unsqueeze(1), h0.unsqueeze(1)))
    batched2 = recompute(gru, x.unsqueeze(1), h0)  # (L*D, H) accepted for B = 1
    assert torch.equal(batched2.h_n, batched.h_n)


@pytest.mark.parametrize("x_shape, h0_shape, message", [
    ((5, 7), None, "x must be (T, 6) for one sequence or (T, B, I) = (T, B, 6)"),
    ((0, 6), None, "x must be (T, 6)"),
    ((5, 3, 2, 6), None, "x must be (T, 6)"),
    ((5, 3, 7), None, "got (5, 3, 7)"),
    ((5, 6), (2, 16), "h0 must be (num_layers*directions, hidden) = (4, 16)"),
    ((5, 3, 6), (4, 2, 16), "h0 must be (num_layers*directions, batch, hidden) = (4, 3, 16)"),
    ((5, 3, 6), (4, 16), "= (4, 3, 16) for this batch, got (4, 16)"),
])
def test_wrong_shapes_get_a_clear_message(x_shape, h0_shape, message):
    gru = _gru(16, 2, True, torch.float32)
    h0 = None if h0_shape is None else torch.randn(h0_shape)
    with pytest.raises(ValueError, match=re.escape(message)):
        recompute(gru, torch.randn(x_shape), h0)


def test_batch_first_modules_say_so_in_the_message():
    gru = _gru(16, 1, False, torch.float32, batch_first=True)
    with pytest.raises(ValueError, match=r"\(B, T, I\) = \(B, T, 6\)"):
        recompute(gru, torch.randn(3, 5, 4))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_refused_by_name(dtype):
    gru = _gru(8, 1, False, torch.float32)
    with pytest.raises(ValueError, match=f"x must be a float32 or float64 tensor.*{dtype}"):
        recompute(gru, torch.randn(5, 6).to(dtype))
    with pytest.raises(ValueError, match=f"float32 and float64 GRUs; this one is "
                                         f"{str(dtype)[6:]}"):
        recompute(gru.to(dtype), torch.randn(5, 6))
    with pytest.raises(ValueError, match="token ids go through an embedding"):
        recompute(_gru(8, 1, False, torch.float32), torch.tensor([[1, 2, 3, 4, 5, 0]]))


def test_batch_index_is_checked():
    gru = _gru(8, 1, False, torch.float32)
    batched = recompute(gru, torch.randn(4, 3, 6))
    with pytest.raises(ValueError, match="holds 3 sequences: pass batch=b"):
        batched.gate("z")
    with pytest.raises(IndexError, match="batch=3, but this trace holds 3 sequences"):
        batched.gate("z", batch=3)
    assert torch.equal(batched.gate("z", batch=-1), batched.gate("z", batch=2))
    one = recompute(gru, torch.randn(4, 6))
    assert torch.equal(one.gate("z", batch=0), one.gate("z"))
    with pytest.raises(IndexError, match="one unbatched sequence"):
        one.gate("z", batch=1)


def test_a_module_in_train_mode_is_traced_as_in_eval_with_a_warning():
    gru = torch.nn.GRU(6, 8, num_layers=2, dropout=0.5).train()
    x = torch.randn(5, 2, 6)
    with pytest.warns(UserWarning, match="train\\(\\) mode: it is traced as in eval\\(\\), "
                                         "without the dropout of 0.5"):
        tr = recompute(gru, x)
    assert "without the dropout of 0.5" in tr.notes[0]
    with torch.no_grad():
        _assert_same_output(tr, *gru.eval()(x))
    plain = torch.nn.GRU(6, 8).train()  # no dropout: the same numbers, a note, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = recompute(plain, torch.randn(5, 6))
    assert "the same numbers" in tr.notes[0]
    assert recompute(plain.eval(), torch.randn(5, 6)).notes == ()
