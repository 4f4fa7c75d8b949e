"""Chunk-by-chunk resampling that matches a one-shot polyphase resample exactly."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import firwin, resample_poly


class StreamResampler:
    """Polyphase resampler for a stream of float chunks.

    Each output sample is released as soon as every input sample its filter
    touches has arrived (about 1 ms of delay), so the concatenated output
    equals `scipy.signal.resample_poly` applied to the whole stream.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        g = gcd(src_rate, dst_rate)
        self.up, self.down = dst_rate // g, src_rate // g
        self._half = 10 * max(self.up, self.down)
        self._taps = firwin(2 * self._half + 1, 1.0 / max(self.up, self.down), window=("kaiser", 5.0))
        self._buf = np.zeros(0, dtype=np.float32)
        self._base = 0  # stream index of _buf[0]; always a multiple of down
        self._received = 0
        self._emitted = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add input; return the output samples that are now final."""
        self._buf = np.concatenate([self._buf, samples.astype(np.float32, copy=False)])
        self._received += len(samples)
        ready = max(self._emitted, (self._received * self.up - self._half - 1) // self.down + 1)
        out = self._take(ready)
        keep = max(0, (self._emitted * self.down - self._half) // self.up - 1)
        base = max(self._base, keep // self.down * self.down)
        self._buf = self._buf[base - self._base :]
        self._base = base
        return out

    def flush(self) -> np.ndarray:
        """Return the rest of the output, treating the stream as ended."""
        return self._take(-(-self._received * self.up // self.down))

    def _take(self, end: int) -> np.ndarray:
        if end <= self._emitted or len(self._buf) == 0:
            return np.zeros(0, dtype=np.float32)
        offset = self._base * self.up // self.down
        out = resample_poly(self._buf, self.up, self.down, window=self._taps)
        out = out[self._emitted - offset : end - offset].astype(np.float32)
        self._emitted = end
        return out
