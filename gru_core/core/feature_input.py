"""A feature model's input from a file: a .npy (T, F) array, or a .wav through the course's
spectrogram (audio.RECIPE) and then the model's own preprocessing, named in its meta
("preprocess": "log10(x + 1e-6)"). Untrusted bytes: a .npy's header (shape, dtype) is checked
before its data is read, and never with pickles."""

from __future__ import annotations

import io
import re

import numpy as np

from .audio import RECIPE, clip_seconds, wav_features
from .features import MAX_FRAMES, FeatureTrace

MAX_NPY_BYTES = 64 * 2**20
_LOG10 = re.compile(r"log10\(x \+ ([0-9.eE+-]+)\)")


def read_npy(data: bytes, F: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """.npy bytes -> (T, F) float32, refused with the reason before the array is read when
    its header says another shape, a non-float dtype, or more than max_frames frames."""
    if len(data) > MAX_NPY_BYTES:
        raise ValueError(f"the .npy file has {len(data):,} bytes, more than "
                         f"{MAX_NPY_BYTES:,}")
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"unknown .npy version {version}")
        shape, fortran, dtype = read_header(f)
    except ValueError as e:
        raise ValueError(f"not a readable .npy file: {e}") from None
    if dtype.kind not in "fiu" or dtype.hasobject:
        raise ValueError(f"the .npy array holds {dtype}, not numbers")
    if len(shape) != 2 or shape[1] != F or not 1 <= shape[0] <= max_frames:
        raise ValueError(f"the .npy array must be (T, {F}) with 1 <= T <= {max_frames:,} "
                         f"frames, got {tuple(shape)}")
    f.seek(0)
    try:
        x = np.load(f, allow_pickle=False)
    except ValueError as e:  # a header that promises more data than the file holds
        raise ValueError(f"not a readable .npy file: {e}") from None
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError("the .npy array holds NaN or infinite values")
    return x


def preprocessing(meta: dict) -> str:
    """The preprocessing the model's meta names ("none" when it names none)."""
    step = meta.get("preprocess", "none")
    if step != "none" and not _LOG10.fullmatch(str(step)):
        raise ValueError(f"unknown preprocessing {step!r:.60}: 'none' or 'log10(x + c)'")
    return step


def preprocess(meta: dict, x: np.ndarray) -> np.ndarray:
    """The spectrogram -> what the model reads, as its meta names it."""
    step = preprocessing(meta)
    if step == "none":
        return x
    return np.log10(x + np.float32(_LOG10.fullmatch(step).group(1))).astype(np.float32)


def wav_input(meta: dict, data: bytes, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """.wav bytes -> the course's spectrogram (T, 101) -> the model's preprocessing."""
    x = wav_features(data)
    if x.shape[0] > max_frames:
        raise ValueError(f"the .wav file gives {x.shape[0]:,} frames, more than "
                         f"{max_frames:,}")
    return preprocess(meta, x)


def recipe(meta: dict) -> str:
    """The page's sentence for a .wav: the spectrogram, then the model's preprocessing."""
    step = preprocessing(meta)
    return RECIPE + ("; no preprocessing after it (the model's file names none)"
                     if step == "none" else f"; then {step}, as the model's meta says")


def step_seconds(tt: FeatureTrace, t: int) -> tuple[float, float]:
    """The stretch of the clip GRU step t has read: its first frame's start, its last one's
    end."""
    return clip_seconds(*tt.span(t))
