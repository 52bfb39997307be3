"""The trigger-word assignment's spectrogram from a .wav file (gru_core.core.audio)."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from gru_core.core.audio import spectrogram, wav_features


def wav(samples: np.ndarray, rate: int = 44_100, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(samples.astype(np.int16), channels).tobytes())
    return buf.getvalue()


def test_ten_seconds_at_44k_are_the_assignments_5511_frames_and_a_tone_is_its_bin():
    t = np.arange(441_000) / 44_100
    tone = 8000 * np.sin(2 * np.pi * 2205 * t)  # 2205 Hz: bin 2205 / 44100 * 200 = 10
    x = wav_features(wav(tone, channels=2))
    assert x.shape == (5511, 101) and x.dtype == np.float32
    assert (x.argmax(axis=1) == 10).all()


def test_one_frame_is_the_written_out_psd():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=1000) * 100
    got = spectrogram(samples)
    n, k = np.arange(200), np.arange(101)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / 199)  # np.hanning(200), written out
    frame = samples[80 * 3 : 80 * 3 + 200] * w  # frame 3 starts at sample 240
    dft = (frame[None, :] * np.exp(-2j * np.pi * k[:, None] * n[None, :] / 200)).sum(1)
    want = np.abs(dft) ** 2 / 8000 / (w**2).sum()
    want[1:-1] *= 2
    np.testing.assert_allclose(got[3], want, rtol=1e-5)
    assert got.shape == ((1000 - 120) // 80, 101)


def test_bad_files_are_refused_with_a_message():
    with pytest.raises(ValueError, match="not a readable PCM .wav"):
        wav_features(b"RIFF....WAVEjunk")
    with pytest.raises(ValueError, match="fewer than one frame"):
        wav_features(wav(np.zeros(50)))


def test_a_keras_path_brings_its_preprocessing_and_labels_from_beside_it():
    """From Python as in the app: load_checkpoint(path) reads name.meta.json and
    name.labels.json beside a Keras file, so the sample .wav is log-scaled as the model was
    trained, and its trace equals the one on the sample's own features."""
    from gru_core import load_checkpoint
    from gru_core.core import feature_input

    from ..conftest import CHECKPOINTS
    ck = load_checkpoint(CHECKPOINTS / "trigger-word.keras")
    assert ck.meta["preprocess"] == "log10(x + 1e-6)"
    assert ck.meta["framework"]  # the file's own meta is kept beside the record
    wav = (CHECKPOINTS / "trigger-word.sample.wav").read_bytes()
    x = feature_input.wav_input(ck.meta, wav)
    assert np.array_equal(x, np.log10(feature_input.wav_features(wav) + 1e-6).astype(x.dtype))
    bare = load_checkpoint((CHECKPOINTS / "trigger-word.keras").read_bytes(), features=True)
    assert "preprocess" not in bare.meta  # bytes carry no name: nothing beside them is read
