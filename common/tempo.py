"""Time-scale modification of speech (WSOLA): faster or slower at the same pitch.

Waveform-similarity overlap-add: the output is built from Hann-windowed frames
taken from the input every `factor` hops, each shifted (within a tolerance) to
where it best continues the previous frame, so periods line up and the voice
keeps its pitch and timbre. Streaming: audio goes in chunk by chunk and comes
out as soon as it is final, so it can sit behind a synthesizer or in front of a
listener's playback.
"""

from __future__ import annotations

import numpy as np

FRAME_S = 0.032
"""Analysis frame (two synthesis hops): long enough for a low voice's period."""
TOLERANCE_S = 0.008
"""How far a frame may move from its nominal place to line up with the last."""


class Stretcher:
    """Plays float32 audio at `factor` times its speed (2.0: half as long), chunk by chunk."""

    def __init__(self, sample_rate: int, factor: float) -> None:
        if not 0.25 <= factor <= 4.0:
            raise ValueError(f"tempo factor {factor:g} is out of range 0.25-4")
        self.factor = factor
        self._hop = max(1, round(FRAME_S * sample_rate / 2))
        self._n = 2 * self._hop
        self._tol = round(TOLERANCE_S * sample_rate)
        self._window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self._n) / self._n)).astype(np.float32)
        self._in = np.zeros(0, dtype=np.float32)
        self._base = 0
        """Input position of self._in[0]."""
        self._acc = np.zeros(self._n, dtype=np.float32)
        self._k = 0
        self._prev = 0
        self._taken = 0
        self._given = 0

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Add input; return the output that is final so far."""
        if self.factor == 1.0:
            return audio.astype(np.float32, copy=False)
        self._taken += len(audio)
        self._in = np.concatenate([self._in, audio.astype(np.float32, copy=False)])
        return self._run()

    def flush(self) -> np.ndarray:
        """The rest of the output: all of it is then `1/factor` times as long as the input."""
        if self.factor == 1.0:
            return np.zeros(0, dtype=np.float32)
        total = round(self._taken / self.factor)
        out = [self._run()]
        made = self._given
        while made < total:
            nominal = self._nominal(self._k)
            need = max(nominal + self._tol + self._n, self._prev + self._hop + self._n) - self._base
            if need > len(self._in):
                self._in = np.concatenate([self._in, np.zeros(need - len(self._in), dtype=np.float32)])
            out.append(self._frame(nominal)[: total - made])
            made += len(out[-1])
        self._given = made
        return np.concatenate(out)

    def _nominal(self, k: int) -> int:
        return round(k * self._hop * self.factor)

    def _run(self) -> np.ndarray:
        """Every frame the input so far allows."""
        out: list[np.ndarray] = []
        while True:
            nominal = self._nominal(self._k)
            need = max(nominal + self._tol + self._n, self._prev + self._hop + self._n)
            if need > self._base + len(self._in):
                break
            out.append(self._frame(nominal))
        self._trim()
        made = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
        self._given += len(made)
        return made

    def _frame(self, nominal: int) -> np.ndarray:
        """Overlap-add frame k at its best place near nominal; return the hop now final."""
        x, base, n, hop = self._in, self._base, self._n, self._hop
        if self._k == 0:
            start = 0
            window = self._window.copy()
            window[:hop] = 1.0
        else:
            template = x[self._prev + hop - base : self._prev + hop - base + n]
            low = max(self._base, nominal - self._tol, 0)
            region = x[low - base : nominal + self._tol + n - base]
            scores = np.correlate(region, template, mode="valid")
            energy = np.cumsum(np.concatenate([[0.0], region.astype(np.float64) ** 2]))
            norms = np.sqrt(np.maximum(energy[n:] - energy[:-n], 1e-12))[: len(scores)]
            start = low + int(np.argmax(scores / norms))
            window = self._window
        self._acc += window * x[start - base : start - base + n]
        done = self._acc[:hop].copy()
        self._acc[:hop] = self._acc[hop:]
        self._acc[hop:] = 0.0
        self._prev = start
        self._k += 1
        return done

    def _trim(self) -> None:
        """Forget input no later frame can use."""
        keep_from = min(self._prev + self._hop, self._nominal(self._k) - self._tol)
        cut = max(0, keep_from - self._base)
        if cut:
            self._in = self._in[cut:]
            self._base += cut


def stretch(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Audio (float32) played `factor` times as fast, in one go."""
    stretcher = Stretcher(sample_rate, factor)
    return np.concatenate([stretcher.push(audio), stretcher.flush()])
