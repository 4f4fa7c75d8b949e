"""Moving a synthesized voice toward a speaker after synthesis: pitch and formants (Praat's Change Gender).

Praat's Change Gender resamples to shift the formants (a formant ratio below 1 is
a longer vocal tract, as from a woman's voice to a man's) and re-synthesizes the
pitch with PSOLA at a new median, keeping duration. It costs well under a
millisecond per 20 ms frame of audio (bench/voice_shift.py measures it).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import parselmouth
from parselmouth.praat import call

log = logging.getLogger(__name__)

PITCH_FLOOR, PITCH_CEILING = 60.0, 600.0
MIN_SECONDS = 0.1
"""Shorter audio is passed through: too few pitch periods to analyse."""


def median_pitch(sound: parselmouth.Sound) -> float:
    """The median F0 of the voiced frames in Hz, or nan without voicing."""
    pitch = sound.to_pitch(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
    value = call(pitch, "Get quantile", 0.0, 0.0, 0.5, "Hertz")
    return float(value) if value == value else math.nan


def shift(audio: np.ndarray, rate: int, pitch: float = 1.0, formant: float = 1.0) -> np.ndarray:
    """Audio (float32 at rate) with its F0 multiplied by pitch and its formants by formant."""
    if (pitch == 1.0 and formant == 1.0) or len(audio) < MIN_SECONDS * rate:
        return audio
    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=rate)
    new_median = 0.0
    if pitch != 1.0:
        median = median_pitch(sound)
        new_median = median * pitch if math.isfinite(median) else 0.0
    try:
        out = call(sound, "Change gender", PITCH_FLOOR, PITCH_CEILING, formant, new_median, 1.0, 1.0)
    except parselmouth.PraatError as err:
        log.warning("voice shift skipped on %.2f s of audio: %s", len(audio) / rate, err)
        return audio
    shifted = np.asarray(out.values[0], dtype=np.float32)
    return shifted[: len(audio)] if len(shifted) >= len(audio) else np.pad(shifted, (0, len(audio) - len(shifted)))
