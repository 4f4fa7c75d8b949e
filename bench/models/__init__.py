"""Random-weight production models built from each library's own config: tiny for tests, full size for benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import corpus

RATE = 16000


def speech(seconds: float) -> np.ndarray:
    """Real speech at 16 kHz: the English core-sounds prompts back to back (repeated if need be), cut to seconds."""
    audio = np.concatenate([corpus.prompt_float(name, "en") for name in corpus.EN_SET])
    return np.tile(audio, int(np.ceil(seconds * RATE / len(audio))))[: int(seconds * RATE)]


def timing_row(stage: str, case: str, times_s: Sequence[float], note: str, **extra: object) -> dict[str, object]:
    """One benchmark row: p50 and p95 of the timings (given in seconds) in milliseconds, and what they measured."""
    ms = 1000 * np.asarray(times_s, dtype=np.float64)
    return {
        "stage": stage,
        "case": case,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "note": note,
        **extra,
    }
