"""Time-scale modification (common.tempo): exact length, pitch kept, streaming equals one go."""

from __future__ import annotations

import numpy as np
import pytest

from common.tempo import Stretcher, stretch

RATE = 16000


def _voiced(seconds: float, f0: float = 140.0) -> np.ndarray:
    """A vowel-like signal: harmonics of f0 under a slow amplitude swell."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))
    return (0.3 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))).astype(np.float32)


def _f0(audio: np.ndarray) -> float:
    """The strongest spectral peak (Hz)."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * RATE / len(audio))


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.25, 1.5, 2.0])
def test_length_is_exact_and_pitch_kept(factor: float) -> None:
    source = _voiced(2.0)
    out = stretch(source, RATE, factor)
    assert len(out) == round(len(source) / factor)
    middle = slice(len(out) // 4, 3 * len(out) // 4)
    assert _f0(out[middle]) == pytest.approx(140.0, abs=3.0)
    ratio = np.sqrt(np.mean(out[middle] ** 2)) / np.sqrt(np.mean(source**2))
    assert 0.8 < ratio < 1.2, "frames that fail to line up cancel out and the level drops"


def test_streaming_equals_one_go() -> None:
    source = _voiced(1.5)
    whole = stretch(source, RATE, 1.4)
    stretcher = Stretcher(RATE, 1.4)
    cuts = np.random.default_rng(7).integers(1, 4000, size=40).cumsum()
    parts = [stretcher.push(chunk) for chunk in np.split(source, cuts[cuts < len(source)])]
    streamed = np.concatenate([*parts, stretcher.flush()])
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_unit_factor_passes_audio_through() -> None:
    source = _voiced(0.3)
    stretcher = Stretcher(RATE, 1.0)
    assert np.array_equal(stretcher.push(source), source)
    assert len(stretcher.flush()) == 0


def test_factor_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.25-4"):
        Stretcher(RATE, 5.0)
