"""A Keras GRU model as the rest of gru_core sees it: an nn.GRU-shaped module whose weights are
Keras's (in nn.GRU's layout too, for the analyses that read W_ir .. b_hn), and whose run is
Keras's own, replayed op for op (convention.replay_keras). recompute() asks such a module for
its replay() (keras_recompute), so a Keras model's trace is the usual Trace with Keras's numbers;
trace.py imports nothing from here."""

from __future__ import annotations

import torch
from torch import nn

from .convention import KerasCell, replay_keras
from .model import GRUConfig
from .trace import Trace


class KerasGRU(nn.GRU):
    """Stacked Keras GRU layers (each optionally Bidirectional, merge 'concat')."""

    def __init__(self, cells: list[list[KerasCell]]):
        first, H = cells[0][0], cells[0][0].H
        if any(cell.kernel.dtype != torch.float32 for pair in cells for cell in pair):
            raise ValueError("the cells are not float32: Keras's own float64 run is not float64 "
                             "throughout (measured 1e-4 from a float64 replay), so only float32 "
                             "Keras GRUs are replayed bit for bit; convert the weights .float()")
        super().__init__(first.kernel.shape[0], H, num_layers=len(cells),
                         bias=first.bias is not None, bidirectional=len(cells[0]) == 2,
                         device="meta", dtype=first.kernel.dtype)
        sd = {k: v for layer, pair in enumerate(cells)
              for d, cell in enumerate(pair) for k, v in cell.torch_layout(layer, d == 1).items()}
        self.load_state_dict(sd, assign=True)
        self.cells = cells
        conventions = {cell.convention for pair in cells for cell in pair}
        if len(conventions) > 1:
            raise ValueError("the GRU layers compute different cells (reset_after or "
                             "activations differ): step each layer on its own")
        self.convention = first.convention

    def replay(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> Trace:
        """recompute() asks for this: every term as Keras computes it (keras_recompute)."""
        return keras_recompute(self, x, h0)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        """x: (T, I) -> (output (T, D*H), h_n (L*D, H)), Keras's numbers."""
        trace = keras_recompute(self, x, h0)
        return trace.output, trace.h_n


def layer_input(gru: nn.Module, layer: int, out: torch.Tensor) -> torch.Tensor:
    """What `layer` reads, given the outputs (T, C) of the layer below: the layers the model
    runs between them (BatchNormalization, an activation, Dropout as identity: element-wise,
    so any rows give their own bits), or the outputs themselves (nn.GRU, a plain Keras stack).
    The analyses that run the layers above an edit read it here, so none skips them."""
    between = getattr(gru, "between", None)
    if not layer or not between:
        return out
    return between[layer - 1](out.unsqueeze(0))[0]


class KerasDense(nn.Linear):
    """Keras's Dense head: ops.matmul(x, kernel) then ops.add(bias), as Dense.call does."""

    def __init__(self, kernel: torch.Tensor, bias: torch.Tensor | None):
        super().__init__(kernel.shape[0], kernel.shape[1], bias=True, device="meta",
                         dtype=kernel.dtype)
        self.weight = nn.Parameter(kernel.t(), requires_grad=False)  # (V, D*H), a view
        zero = torch.zeros(kernel.shape[1], dtype=kernel.dtype)
        self.bias = nn.Parameter(zero if bias is None else bias, requires_grad=False)
        self.keras_bias = bias is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.matmul(x, self.weight.t())
        return torch.add(y, self.bias) if self.keras_bias else y


class _StoredTerms:
    """The terms of one layer and direction, (T, H) each, indexed by input position."""

    def __init__(self, terms: dict[str, torch.Tensor], H: int):
        self.terms, self.H = terms, H

    def term(self, name: str, steps) -> torch.Tensor:
        return self.terms[name][steps]

    def tensors(self) -> list[torch.Tensor]:
        return list(self.terms.values())


@torch.no_grad()
def keras_recompute(gru: KerasGRU, x: torch.Tensor, h0: torch.Tensor | None = None):
    """x: (T, I) -> Trace: every term as Keras computed it, in Keras's order."""
    config = GRUConfig(gru.input_size, gru.hidden_size, gru.num_layers, gru.bidirectional,
                       gru.bias)
    if x.dim() != 2 or x.shape[1] != config.input_size or x.shape[0] == 0:
        raise ValueError(f"x must be (T > 0, {config.input_size}), got {tuple(x.shape)}")
    LD, H = config.num_layers * config.num_directions, config.hidden_size
    if h0 is not None and h0.dim() == 3 and h0.shape[1] == 1:  # (L*D, 1, H): one sequence
        h0 = h0[:, 0]
    if h0 is not None and tuple(h0.shape) != (LD, H):
        raise ValueError(f"h0 must be (layers*directions, hidden) = ({LD}, {H}): each layer's "
                         f"initial_state, as Keras's layer takes it; got {tuple(h0.shape)}")
    seq = x.to(gru.cells[0][0].kernel.dtype).unsqueeze(0)  # (1, T, I), Keras's batch-first
    inputs, parts, finals = [], {}, []
    for layer, pair in enumerate(gru.cells):
        seq = layer_input(gru, layer, seq[0]).unsqueeze(0)  # the layers between the GRUs
        inputs.append(seq[0])
        outs = []
        for d, cell in enumerate(pair):
            k = layer * len(pair) + d
            out, terms = replay_keras(cell, seq, go_backwards=d == 1,
                                      h0=None if h0 is None else h0[k : k + 1])
            if d == 1:  # Bidirectional flips the backward layer's outputs back (ops.flip)
                out = torch.flip(out, dims=[1])
                terms = {k: torch.flip(v, dims=[0]) for k, v in terms.items()}
            finals.append(terms["h"][0 if d == 1 else -1])
            parts[(layer, d)] = _StoredTerms(terms, cell.H)
            outs.append(out)
        seq = outs[0] if len(outs) == 1 else torch.concatenate(outs, dim=-1)
    return Trace(config, seq[0], torch.stack(finals), inputs, gru.state_dict(), parts,
                 convention=gru.convention.name)
