"""recompute() for the calls nn.GRU takes besides one unbatched sequence: a batch (T, B, I), a
batch_first module's (B, T, I), and a PackedSequence.

One layout serves all three: a PackedSequence's. Step i holds the first `sizes[i]` sequences
(sorted longest first), stored in rows offsets[i] .. offsets[i] + sizes[i] of every term; a padded
batch is the case sizes = [B] * T.

Bit for bit. nn.GRU runs, one layer at a time, on the caller's own input, so output and h_n are
PyTorch's. The gates are then replayed step by step with ATen's own operations (GRUCell on the
CPU: the input product for all steps at once, then per step W_hh h_prev + b_hh as one
(sizes[i], H) x (H, 3H) product and in-place element-wise kernels on (sizes[i], H) rows). The
batched product does not round like B products of one row, and element-wise kernels vectorise
over all of a contiguous (B, H) block, so the per-sequence way of the unbatched path would not
give nn.GRU's bits here. h_prev is handed to the product as nn.GRU hands it: the caller's h0 at
the first step, a fresh (64-byte aligned) tensor after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence

from .weights import single_layer, suffix


@dataclass(frozen=True)
class Batch:
    """Where each sequence of a batched call sits in the trace's rows."""

    sizes: tuple[int, ...]  # sequences still running at step i (PackedSequence.batch_sizes)
    lengths: tuple[int, ...]  # T_b of sequence b, in the caller's order
    position: tuple[int, ...]  # sequence b's place in the sorted order (sizes)
    batch_first: bool
    packed: bool

    @property
    def B(self) -> int:
        return len(self.lengths)

    def rows(self, b: int) -> torch.Tensor:
        """(T_b,) rows of sequence b, step by step."""
        if not -self.B <= b < self.B:
            raise IndexError(f"batch={b}, but this trace holds {self.B} sequences")
        b %= self.B
        offsets = torch.tensor((0, *self.sizes[:-1])).cumsum(0)
        return offsets[: self.lengths[b]] + self.position[b]


class BatchTerms:
    """Every term of one layer and direction, one row per (step, sequence) in packed order."""

    def __init__(self, sd: dict, layer: int, d: int, x: torch.Tensor, h: torch.Tensor,
                 h0: torch.Tensor, sizes: tuple[int, ...]):
        s, H = suffix(layer, d), h0.shape[-1]
        self.H, self.sizes, self.reverse = H, sizes, d == 1
        self.W_hh, self.b_hh = sd["weight_hh" + s], sd.get("bias_hh" + s)
        # the input product nn.GRU does, on the same tensor: (T, B, 3H) or (N, 3H)
        self.gi = F.linear(x, sd["weight_ih" + s], sd.get("bias_ih" + s)).reshape(-1, 3 * H)
        self.h = h  # (N, H): nn.GRU's own h, a view of its output
        self.h0 = h0  # (B, H), as nn.GRU reads it
        N = self.gi.shape[0]
        self.h_prev = h.new_empty(N, H)
        self.gh, self.g = h.new_empty(N, 3 * H), h.new_empty(N, 3 * H)  # [hr|hz|hn], [r|z|n]

    def fill(self) -> None:
        """GRUCell step by step, in nn.GRU's order (the reverse direction from the last step)."""
        sizes, S = self.sizes, len(self.sizes)
        offsets = [0]
        for n in sizes[:-1]:
            offsets.append(offsets[-1] + n)
        for i in (range(S - 1, -1, -1) if self.reverse else range(S)):
            rows = slice(offsets[i], offsets[i] + sizes[i])
            h_prev = self._h_prev(i, offsets)
            gh = F.linear(h_prev, self.W_hh, self.b_hh)  # (n, 3H), as linear_hh
            self.h_prev[rows], self.gh[rows] = h_prev, gh
            ir, iz, in_ = self.gi[rows].unsafe_chunk(3, 1)
            hr, hz, hn = gh.unsafe_chunk(3, 1)
            r = hr.add_(ir).sigmoid_()
            z = hz.add_(iz).sigmoid_()
            n = in_.add(hn.mul_(r)).tanh_()
            g = self.g[rows]
            g[:, : self.H], g[:, self.H : 2 * self.H], g[:, 2 * self.H :] = r, z, n

    def _h_prev(self, i: int, offsets: list[int]) -> torch.Tensor:
        """The hidden state nn.GRU's cell reads at step i: a view of h0 at its first step,
        otherwise a fresh tensor (the previous cell's output, narrowed or extended by h0 rows
        where sequences end or, going backwards, begin)."""
        sizes, n = self.sizes, self.sizes[i]
        j = i + 1 if self.reverse else i - 1
        if not 0 <= j < len(sizes):
            return self.h0[:n]
        prev = self.h[offsets[j] : offsets[j] + min(n, sizes[j])]
        if n > sizes[j]:  # reverse: sequences that end at step i start here, from h0
            return torch.cat([prev, self.h0[sizes[j] : n]])
        return prev.clone()

    def term(self, name: str, rows: torch.Tensor) -> torch.Tensor:
        if name in ("h", "h_prev"):
            return getattr(self, name)[rows]
        for names, held in ((("r", "z", "n"), self.g), (("hr", "hz", "hn"), self.gh),
                            (("ir", "iz", "in"), self.gi)):
            if name in names:
                k = names.index(name)
                return held[rows][:, k * self.H : (k + 1) * self.H]
        raise KeyError(name)

    def tensors(self) -> list[torch.Tensor]:
        return [self.h, self.h_prev, self.gh, self.g, self.gi]


def run_batch(sd: dict, config, x, h0: torch.Tensor | None, batch_first: bool, dtype):
    """x: (T, B, I), (B, T, I) with batch_first, or a PackedSequence ->
    (output, h_n, layer inputs, parts, Batch), output and h_n as nn.GRU returns them."""
    L, D, H = config.num_layers, config.num_directions, config.hidden_size
    packed = isinstance(x, PackedSequence)
    if packed:
        sizes = tuple(x.batch_sizes.tolist())
        B, data = sizes[0], x.data
        order = x.sorted_indices
        lengths = [sum(1 for s in sizes if s > j) for j in range(B)]  # sorted order
        if order is None:
            position = tuple(range(B))
        else:
            position = tuple(x.unsorted_indices.tolist())
            lengths = [lengths[p] for p in position]
        layer_in = data
    else:
        layer_in = x.transpose(0, 1) if batch_first else x  # what nn.GRU itself reads
        T, B = layer_in.shape[:2]
        sizes, lengths, position, order = (B,) * T, [T] * B, tuple(range(B)), None
    h0 = _batched_h0(h0, L * D, B, H, dtype)
    if order is not None:  # nn.GRU sorts h0 as it sorted the sequences
        h0 = h0.index_select(1, order)
    inputs, parts, finals = [], {}, []
    for layer in range(L):
        inputs.append(layer_in)
        h0_l = h0[layer * D : (layer + 1) * D]
        run = single_layer(sd, layer)
        if packed:
            out, h_n = run(PackedSequence(layer_in, x.batch_sizes), h0_l)
            out = out.data
        else:
            out, h_n = run(layer_in, h0_l)
        flat = out.reshape(-1, D * H)
        for d in range(D):
            part = BatchTerms(sd, layer, d, layer_in, flat[:, d * H : (d + 1) * H], h0_l[d],
                              sizes)
            part.fill()
            parts[(layer, d)] = part
        finals.append(h_n)
        layer_in = out
    h_n = torch.cat(finals)
    if packed:
        output = PackedSequence(layer_in, x.batch_sizes, x.sorted_indices, x.unsorted_indices)
        if order is not None:
            h_n = h_n.index_select(1, x.unsorted_indices)
    else:
        output = layer_in.transpose(0, 1) if batch_first else layer_in
    batch = Batch(sizes, tuple(lengths), position, batch_first, packed)
    return output, h_n, inputs, parts, batch


def _batched_h0(h0: torch.Tensor | None, LD: int, B: int, H: int, dtype) -> torch.Tensor:
    if h0 is None:
        return torch.zeros(LD, B, H, dtype=dtype)
    if h0.dim() == 2 and B == 1 and h0.shape == (LD, H):
        h0 = h0.unsqueeze(1)
    if h0.shape != (LD, B, H):
        raise ValueError(f"h0 must be (num_layers*directions, batch, hidden) = ({LD}, {B}, {H}) "
                         f"for this batch, got {tuple(h0.shape)}")
    return h0

