"""A .wav file -> the trigger-word assignment's spectrogram, (T, 101).

The recipe is the course's graph_spectrogram: matplotlib's specgram(x, NFFT=200, Fs=8000,
noverlap=120) of the first channel, transposed to (frames, frequencies). Written here with NumPy
in specgram's own steps (mlab._spectral_helper, mode 'psd'): frames of 200 samples every 80, a
Hann window, |rfft|², divided by Fs and by the window's energy, the non-edge frequencies doubled.
A 10 s clip at 44.1 kHz gives the assignment's 5511 frames. Agreement with matplotlib itself is
not tested here (matplotlib is not a dependency); the recipe is what RECIPE says.
"""

from __future__ import annotations

import io
import wave

import numpy as np

NFFT, FS, NOVERLAP = 200, 8000, 120
RECIPE = ("spectrogram as in the course's graph_spectrogram: matplotlib specgram of the first "
          "channel, NFFT 200, Fs 8000, noverlap 120 (Hann window, power spectral density), "
          "transposed to (frames, 101 frequencies)")
MAX_SAMPLES = 60 * 48_000  # a minute at 48 kHz


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """PCM .wav bytes -> (the first channel as float64 samples, the sample rate)."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            n, channels, width, rate = (w.getnframes(), w.getnchannels(), w.getsampwidth(),
                                        w.getframerate())
            if n > MAX_SAMPLES:
                raise ValueError(f"the .wav file is longer than {MAX_SAMPLES:,} samples")
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"not a readable PCM .wav file: {e}") from None
    kinds = {1: np.uint8, 2: np.int16, 4: np.int32}
    if width not in kinds:
        raise ValueError(f"the .wav file has {8 * width}-bit samples: 8, 16 or 32 are read")
    samples = np.frombuffer(raw, dtype=kinds[width])[::channels].astype(np.float64)
    if width == 1:
        samples -= 128  # 8-bit PCM is unsigned
    return samples, rate


def spectrogram(samples: np.ndarray) -> np.ndarray:
    """(N,) samples -> (T, NFFT // 2 + 1) power spectral density, float32."""
    step = NFFT - NOVERLAP
    if samples.shape[0] < NFFT:
        raise ValueError(f"the clip has {samples.shape[0]} samples, fewer than one frame "
                         f"({NFFT})")
    T = (samples.shape[0] - NOVERLAP) // step
    starts = np.arange(T) * step
    frames = samples[starts[:, None] + np.arange(NFFT)]  # (T, NFFT)
    window = np.hanning(NFFT)
    spectrum = np.fft.rfft(frames * window, n=NFFT, axis=1)  # (T, 101)
    psd = (np.conj(spectrum) * spectrum).real
    psd[:, 1:-1] *= 2.0  # one-sided: the energy of the negative frequencies
    psd /= FS
    psd /= (np.abs(window) ** 2).sum()
    return psd.astype(np.float32)


def wav_features(data: bytes) -> np.ndarray:
    """.wav bytes -> (T, 101), the trigger-word model's input."""
    samples, _ = read_wav(data)
    return spectrogram(samples)


def frame_seconds(i: int) -> float:
    """When spectrogram frame i starts in its clip (frames are NFFT - NOVERLAP samples apart)."""
    return i * (NFFT - NOVERLAP) / FS


def clip_seconds(start: int, end: int) -> tuple[float, float]:
    """The stretch of the clip frames [start, end) cover: the first one's start, the last
    one's end."""
    return frame_seconds(start), frame_seconds(end - 1) + NFFT / FS
