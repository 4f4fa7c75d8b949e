"""A 64-D prosody vector: pitch, voicing, energy and rhythm statistics of one recording.

Input is 16 kHz float audio and its 32 ms Silero speech mask (common.vad). Pitch comes
from librosa's pYIN (65-520 Hz, 20 ms hop, quarter-semitone grid) on the frames
inside speech; energy is the RMS level of 25 ms frames every 10 ms, in dB
relative to the 95th percentile of the speech frames (so loudness does not
matter). Semitones (st) are relative to 100 Hz.

Each scalar x is stored standardized, (x - center) / scale, with fixed centers
and scales for adult speech, clipped to +-4. Distributions (the pitch histogram
and the modulation spectrum) are stored as the square root of their shares
times a weight, so their part of a cosine is a Bhattacharyya coefficient. The
whole vector is then L2-normalized; with no speech it is all zeros.

Layout (index: feature [center, scale]):

   0     pitch mean, st [6, 6]
   1     pitch standard deviation, st [2.5, 1.5]
   2-6   pitch 5th, 25th, 50th, 75th, 95th percentiles, st [6, 6]
   7     pitch range, 95th - 5th percentile, st [8, 4]
   8     mean |pitch change| between consecutive voiced 20 ms frames, st [0.5, 0.5]
   9     pitch slope over the recording (least squares), st/s [0, 5]
  10-33  log-pitch histogram: 24 bins of 1.5 st from 65 Hz to 520 Hz,
         sqrt(share of voiced frames) x 2
  34     voiced ratio: voiced seconds / speech seconds [0.6, 0.2]
  35     mean pYIN voicing probability over speech [0.5, 0.2]
  36     voiced stretches per second of speech [3, 1.5]
  37     energy mean, dB [-10, 5]
  38     energy standard deviation, dB [6, 3]
  39-41  energy 10th, 50th, 90th percentiles, dB [-20, 8], [-8, 5], [-2, 2]
  42     mean |energy change| per 10 ms, dB [1.5, 1]
  43     correlation of energy and pitch over voiced frames [0.3, 0.3]
  44     syllable-rate proxy: energy-envelope peaks per second of speech [4, 1.5]
  45     pause ratio: non-speech share between the first and last speech frame [0.15, 0.15]
  46     mean pause length, s [0.3, 0.3]
  47     mean speech stretch length, s [1.5, 1]
  48-53  energy-envelope modulation spectrum, shares of the bands 1-2, 2-3,
         3-4.5, 4.5-6.5, 6.5-9.5, 9.5-14 Hz, sqrt x 1
  54-63  reserved, zero
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from librosa import pyin
from librosa.feature import rms
from scipy.signal import find_peaks

from common.vad import RATE, WINDOW_S

DIM = 64
FMIN, FMAX = 65.0, 520.0
PITCH_HOP_S = 0.02
ENERGY_HOP_S = 0.01
HIST_BINS = 24
HIST_WEIGHT = 2.0
MOD_BANDS = (1.0, 2.0, 3.0, 4.5, 6.5, 9.5, 14.0)
MOD_WEIGHT = 1.0
CLIP = 4.0

_PITCH = np.array([[6, 6], [2.5, 1.5], [6, 6], [6, 6], [6, 6], [6, 6], [6, 6], [8, 4], [0.5, 0.5], [0, 5]])
_VOICING = np.array([[0.6, 0.2], [0.5, 0.2], [3, 1.5]])
_ENERGY = np.array([[-10, 5], [6, 3], [-20, 8], [-8, 5], [-2, 2], [1.5, 1], [0.3, 0.3]])
_RHYTHM = np.array([[4, 1.5], [0.15, 0.15], [0.3, 0.3], [1.5, 1]])


def _on_grid(speech: np.ndarray, n: int, hop_s: float) -> np.ndarray:
    """The speech mask sampled at the centers of n frames hop_s apart."""
    if len(speech) == 0:
        return np.zeros(n, dtype=bool)
    index = np.minimum((np.arange(n) * hop_s / WINDOW_S).astype(int), len(speech) - 1)
    return speech[index]


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of the runs of True and of False in mask."""
    if len(mask) == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [len(mask)]))
    lengths = np.diff(bounds)
    starts_true = mask[bounds[:-1]]
    return lengths[starts_true], lengths[~starts_true]


def _standardize(values: list[float], table: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(values, dtype=np.float64) - table[:, 0]) / table[:, 1], -CLIP, CLIP)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float(_ENERGY[6, 0])
    return float(np.corrcoef(a, b)[0, 1])


def prosody_vector(audio: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """The 64-D prosody vector (float32, unit length or zero) of 16 kHz float audio."""
    speech_s = float(speech.sum()) * WINDOW_S
    if speech_s == 0.0:
        return np.zeros(DIM, dtype=np.float32)

    f0, voiced_flag, voiced_prob = pyin(
        audio,
        fmin=FMIN,
        fmax=FMAX,
        sr=RATE,
        frame_length=1024,
        hop_length=int(RATE * PITCH_HOP_S),
        resolution=0.25,
    )
    in_speech = _on_grid(speech, len(f0), PITCH_HOP_S)
    voiced = voiced_flag & in_speech & np.isfinite(f0)
    track = 12.0 * np.log2(np.where(voiced, f0, 100.0) / 100.0)
    semitones = track[voiced]

    if len(semitones):
        pct = np.percentile(semitones, [5, 25, 50, 75, 95])
        steps = np.abs(np.diff(track))[voiced[1:] & voiced[:-1]]
        times = np.flatnonzero(voiced) * PITCH_HOP_S
        slope = float(np.polyfit(times, semitones, 1)[0]) if len(semitones) >= 3 else 0.0
        pitch = _standardize(
            [
                float(semitones.mean()),
                float(semitones.std()),
                *pct,
                float(pct[4] - pct[0]),
                float(steps.mean()) if len(steps) else float(_PITCH[8, 0]),
                slope,
            ],
            _PITCH,
        )
        edges = 12.0 * np.log2(FMIN / 100.0) + 1.5 * np.arange(HIST_BINS + 1)
        counts, _ = np.histogram(np.clip(semitones, edges[0], edges[-1]), bins=edges)
        histogram = np.sqrt(counts / counts.sum()) * HIST_WEIGHT
    else:
        pitch = np.zeros(len(_PITCH))
        histogram = np.zeros(HIST_BINS)

    voiced_runs, _ = _runs(voiced)
    voicing = _standardize(
        [
            float(voiced.sum()) * PITCH_HOP_S / speech_s,
            float(np.nan_to_num(voiced_prob[in_speech]).mean()) if in_speech.any() else 0.0,
            len(voiced_runs) / speech_s,
        ],
        _VOICING,
    )

    level = rms(y=audio, frame_length=400, hop_length=int(RATE * ENERGY_HOP_S))[0]
    db = 20.0 * np.log10(level + 1e-5)
    energy_speech = _on_grid(speech, len(db), ENERGY_HOP_S)
    if not energy_speech.any():
        energy_speech = np.ones(len(db), dtype=bool)
    rel = db - np.percentile(db[energy_speech], 95)
    speech_rel = rel[energy_speech]
    pitch_db = rel[np.minimum(np.flatnonzero(voiced) * 2, len(rel) - 1)]
    energy = _standardize(
        [
            float(speech_rel.mean()),
            float(speech_rel.std()),
            *np.percentile(speech_rel, [10, 50, 90]),
            float(np.abs(np.diff(speech_rel)).mean()) if len(speech_rel) > 1 else float(_ENERGY[5, 0]),
            _correlation(semitones, pitch_db),
        ],
        _ENERGY,
    )

    smooth = np.convolve(rel, np.ones(5) / 5, mode="same")
    peaks, _ = find_peaks(smooth, prominence=4.0, distance=10)
    peaks = peaks[energy_speech[peaks] & (smooth[peaks] > -25.0)]
    first, last = np.flatnonzero(speech)[[0, -1]]
    speech_runs, pause_runs = _runs(speech[first : last + 1])
    rhythm = _standardize(
        [
            len(peaks) / speech_s,
            float(pause_runs.sum()) / (last - first + 1),
            float(pause_runs.mean()) * WINDOW_S if len(pause_runs) else 0.0,
            float(speech_runs.mean()) * WINDOW_S,
        ],
        _RHYTHM,
    )

    span = level[int(first * WINDOW_S / ENERGY_HOP_S) : int((last + 1) * WINDOW_S / ENERGY_HOP_S)]
    modulation = np.zeros(len(MOD_BANDS) - 1)
    if len(span) >= 50:
        power = np.abs(np.fft.rfft((span - span.mean()) * np.hanning(len(span)))) ** 2
        freqs = np.fft.rfftfreq(len(span), ENERGY_HOP_S)
        bands = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in pairwise(MOD_BANDS)])
        if bands.sum() > 0:
            modulation = np.sqrt(bands / bands.sum()) * MOD_WEIGHT

    vector = np.zeros(DIM)
    parts = np.concatenate([pitch, histogram, voicing, energy, rhythm, modulation])
    vector[: len(parts)] = parts
    norm = np.linalg.norm(vector)
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def pitch_median_hz(prosody: np.ndarray) -> float:
    """The median F0 (Hz) a prosody vector was made from; 0 when it had no voiced speech.

    The vector is unit length, so its scale is recovered from the pitch histogram,
    whose squared shares sum to HIST_WEIGHT ** 2 before normalization.
    """
    if len(prosody) < DIM:
        return 0.0
    scale = float(np.linalg.norm(prosody[10 : 10 + HIST_BINS])) / HIST_WEIGHT
    if scale <= 0.0:
        return 0.0
    center, spread = _PITCH[4]
    semitones = center + spread * float(prosody[4]) / scale
    return float(100.0 * 2.0 ** (semitones / 12.0))
