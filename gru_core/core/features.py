"""A model that reads a sequence of feature vectors (a spectrogram, sensor readings) instead of
tokens: the layers before its first GRU (Conv1D, BatchNormalization, ReLU, pooling; Keras's, see
keras_layers.py) turn the (T, F) input into the GRU's x_t, and every GRU step, gate and head
output is traced as for text. GRU step t reads the input frames `FeatureTrace.span(t)`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch

from .audio import clip_seconds
from .checkpoint import Checkpoint
from .keras_layers import Conv1D, Masking, Pool1D, conv_length
from .lm import TextTrace, head_probs, initial_state, padded
from .trace import Trace, recompute

MAX_FRAMES = 100_000


@dataclass
class FeatureTrace(TextTrace):
    """A TextTrace whose steps are frames: `x` the input (T_in, F) as given, `spans[t]` the
    input frames [start, end) that GRU step t reads (one frame each without a Conv1D)."""

    x: torch.Tensor = field(kw_only=True, repr=False)
    spans: list[tuple[int, int]] = field(kw_only=True, repr=False)
    audio: bool = field(default=False, kw_only=True)  # x is a clip's spectrogram (audio.py)

    def span(self, t: int) -> tuple[int, int]:
        return self.spans[t]

    def step_label(self, t: int) -> str:
        """What GRU step t reads, as a token is named for text: "frame 17", or "frames 68–82"
        through a Conv1D, with the clip's seconds for audio ("frame 17 (0.17–0.20 s)")."""
        start, end = self.spans[t]
        said = f"frame {start}" if end - start == 1 else f"frames {start}–{end - 1}"
        if not self.audio:
            return said
        s0, s1 = clip_seconds(start, end)
        return f"{said} ({s0:.2f}–{s1:.2f} s)"

    def nbytes(self) -> int:
        return super().nbytes() + self.x.nbytes


class FeatureCheckpoint(Checkpoint):
    """A checkpoint whose input is (T, F) features: trace(x) takes the array itself."""

    @property
    def features(self) -> int:
        return self.meta["features"]

    def encode(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(T, F) -> (T', input_size): the x_t the first GRU reads, after the front layers."""
        x = check_features(x, self.features)
        with torch.no_grad():
            return self.module.front(x.unsqueeze(0))[0]

    def trace(self, x: np.ndarray | torch.Tensor, h0: torch.Tensor | TextTrace | None = None,
              h0_source: str | None = None, audio: bool = False) -> FeatureTrace:
        """audio: x is a clip's spectrogram (audio.py), so steps also say their seconds."""
        return trace_features(self, x, h0, h0_source, audio)


def check_features(x: object, F: int) -> torch.Tensor:
    """A (T, F) array of finite numbers, as float32 (what a Keras model computes in)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiu":
            raise ValueError(f"the input must be numbers, got an array of {x.dtype}")
        x = torch.from_numpy(np.array(x, dtype=np.float32))
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"the input must be a (T, {F}) array, got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != F or not 1 <= x.shape[0] <= MAX_FRAMES:
        raise ValueError(f"the input must be (T, {F}) with 1 <= T <= {MAX_FRAMES:,} frames, "
                         f"got {tuple(x.shape)}")
    x = x.to(torch.float32).contiguous()
    if not torch.isfinite(x).all():
        raise ValueError("the input holds NaN or infinite values")
    return x


def frames(front, T_in: int) -> int:
    """The GRU steps the front layers make of T_in input frames."""
    T = T_in
    for layer in front.layers:
        if isinstance(layer, Conv1D):
            T = conv_length(T, layer.kernel.shape[0], layer.strides, layer.padding,
                            layer.dilation)
        elif isinstance(layer, Pool1D):
            T = conv_length(T, layer.pool, layer.strides, "valid")
    return T


def spans(front, T_in: int, T: int) -> list[tuple[int, int]]:
    """Per GRU step, the input frames [start, end) it reads through the Conv1D and pooling
    layers (their receptive field; a 'same' padding's zeros are left out)."""
    out = []
    for t in range(T):
        start, end = t, t + 1
        for layer in reversed(list(front.layers)):
            if isinstance(layer, Conv1D):
                k, s, d = layer.kernel.shape[0], layer.strides, layer.dilation
                pad = 0 if layer.padding == "valid" else (d * (k - 1)) // 2
                start, end = start * s - pad, (end - 1) * s + d * (k - 1) + 1 - pad
            elif isinstance(layer, Pool1D):
                start, end = start * layer.strides, (end - 1) * layer.strides + layer.pool
        out.append((max(start, 0), min(end, T_in)))
    return out


@torch.no_grad()
def trace_features(model: FeatureCheckpoint, x: np.ndarray | torch.Tensor,
                   h0: torch.Tensor | TextTrace | None = None,
                   h0_source: str | None = None, audio: bool = False) -> FeatureTrace:
    """x (T, F) -> the front layers, every GRU step (Keras's run), the head at each step."""
    x = check_features(x, model.features)
    h0, h0_source = initial_state(model, h0, h0_source)
    module = model.module
    if frames(module.front, x.shape[0]) < 1:
        raise ValueError(f"{x.shape[0]} frames are fewer than the layers before the GRU need")
    seq, keep = front(module.front, x.unsqueeze(0))  # (T', C), as Keras's layers leave it
    mask = getattr(module, "mask", None)  # a Masking layer's, where it reaches the GRUs
    T = seq.shape[0] if mask is None else mask.steps(keep)
    trace = recompute(module.gru, seq[:T], h0)
    probs = None
    if module.head is not None:
        probs = head_probs(module.head, padded(trace.output, seq.shape[0]))[:T]
    return FeatureTrace(**{f.name: getattr(trace, f.name) for f in fields(Trace)}, model=model,
                        text=f"{x.shape[0]} frames × {x.shape[1]} features",
                        tokens=[str(t) for t in range(T)], probs=probs, h0=h0,
                        h0_source=h0_source, x=x, spans=spans(module.front, x.shape[0], T),
                        padding=seq.shape[0] - T, audio=audio)


def front(layers, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """x: (1, T, F) through the layers before the GRU -> ((T', C), the last Masking layer's
    mask (T',), or None)."""
    keep = None
    for layer in layers.layers:
        if isinstance(layer, Masking):
            keep = layer.keep(x)[0]
        x = layer(x)
    return x[0], keep
