"""Speech detection: the WebRTC VAD in its most aggressive mode, gated by frame energy."""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    # webrtcvad 2.0.10 imports the deprecated pkg_resources just to read its own version.
    warnings.simplefilter("ignore")
    import webrtcvad

RATE = 16000
FRAME_S = 0.03
FRAME = int(RATE * FRAME_S)
FLOOR_DBFS = -60.0
"""Frames quieter than this are never speech."""
RELATIVE_DB = 40.0
"""Frames this far below the loudest frames (95th percentile) are never speech."""


def frame_db(audio: np.ndarray) -> np.ndarray:
    """RMS level in dBFS of each whole 30 ms frame of float audio."""
    frames = audio[: len(audio) - len(audio) % FRAME].reshape(-1, FRAME).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def speech_mask(audio: np.ndarray) -> np.ndarray:
    """One bool per whole 30 ms frame of 16 kHz float audio: is it speech."""
    db = frame_db(audio)
    if len(db) == 0:
        return np.zeros(0, dtype=bool)
    gate = max(FLOOR_DBFS, float(np.percentile(db, 95)) - RELATIVE_DB)
    pcm = (np.clip(audio[: len(db) * FRAME], -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    vad = webrtcvad.Vad(3)
    step = FRAME * 2
    voice = np.array([vad.is_speech(pcm[i * step : (i + 1) * step], RATE) for i in range(len(db))], dtype=bool)
    return voice & (db > gate)
