"""A small trigger-word task, synthesised locally and reproducibly: 2 s clips at 8 kHz of
seeded noise with spoken words mixed in (espeak-ng, resampled by sox), the keyword "activate"
among others. Labels follow the course's assignment: 1 for the GRU steps just after the
keyword ends. Run `python -m gru_core.data.trigger OUT.keras` (Keras, torch backend) to train
the shipped checkpoints/trigger-word.keras."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..core.audio import spectrogram

RATE, SECONDS = 8000, 2
KEYWORD, OTHERS = "activate", ("banana", "hello", "open the door", "relax", "actor")
LABEL_STEPS = 8  # GRU steps labelled 1 after the keyword ends (the assignment: 50 of 1375)
FILTERS, KERNEL, STRIDE, UNITS = 16, 15, 4, 24


def speak(text: str, speed: int) -> np.ndarray:
    """espeak-ng's voice for text, at 8 kHz mono 16-bit (sox), as float samples."""
    with tempfile.TemporaryDirectory() as d:
        raw, out = Path(d) / "raw.wav", Path(d) / "out.wav"
        subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
                       check=True)
        from ..core.audio import read_wav
        return read_wav(out.read_bytes())[0]


def clips(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """-> (X (n, T, 101), Y (n, T', 1), the clips' samples)."""
    rng = np.random.default_rng(seed)
    voices = {w: [speak(w, s) for s in (140, 175, 210)] for w in (KEYWORD, *OTHERS)}
    N = RATE * SECONDS
    X, Y, waves = [], [], []
    steps = (((N - 120) // 80) - KERNEL) // STRIDE + 1
    for _ in range(n):
        x = rng.normal(size=N) * rng.uniform(50, 400)
        y = np.zeros((steps, 1), dtype=np.float32)
        for _ in range(rng.integers(0, 3)):
            word = KEYWORD if rng.random() < 0.5 else OTHERS[rng.integers(len(OTHERS))]
            v = voices[word][rng.integers(3)] * rng.uniform(0.5, 1.2)
            start = int(rng.integers(0, N - len(v)))
            x[start : start + len(v)] += v
            if word == KEYWORD:
                end = ((start + len(v) - 120) // 80 - KERNEL) // STRIDE + 1
                y[end : end + LABEL_STEPS] = 1
        x = np.clip(x, -32768, 32767).astype(np.int16).astype(np.float64)  # as a .wav holds it
        waves.append(x)
        X.append(spectrogram(x))
        Y.append(y)
    return np.stack(X), np.stack(Y), waves


def build(T: int):
    """The assignment's model, small: Conv1D -> BN -> ReLU -> GRU -> BN -> TD(Dense sigmoid)."""
    import keras
    L = keras.layers
    inp = keras.Input((T, 101))
    x = L.Conv1D(FILTERS, KERNEL, strides=STRIDE)(inp)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Dropout(0.2)(x)
    x = L.GRU(UNITS, return_sequences=True)(x)
    x = L.Dropout(0.2)(x)
    x = L.BatchNormalization()(x)
    return keras.Model(inp, L.TimeDistributed(L.Dense(1, activation="sigmoid"))(x))


def main(out: str, n: int = 480, epochs: int = 40) -> None:
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch
    torch.set_num_threads(1)
    keras.utils.set_random_seed(0)
    X, Y, waves = clips(n)
    X = np.log10(X + 1e-6).astype(np.float32)  # see LOG below
    model = build(X.shape[1])
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    model.fit(X, Y, epochs=epochs, batch_size=16, verbose=2, validation_split=0.1)
    p = model.predict(X, verbose=0)
    print(f"mean P(trigger) on labelled steps {p[Y == 1].mean():.3f}, "
          f"elsewhere {p[Y == 0].mean():.3f}")
    model.save(out)
    stem = out.removesuffix(".keras")
    i = int(np.argmax(Y.sum(axis=(1, 2)) > 0))  # a clip that holds the keyword
    np.save(stem + ".sample.npy", X[i])
    import wave
    with wave.open(stem + ".sample.wav", "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(waves[i].astype(np.int16).tobytes())


LOG = "the model reads log10(spectrogram + 1e-6): the PSD spans many decades"

if __name__ == "__main__":
    main(sys.argv[1])
