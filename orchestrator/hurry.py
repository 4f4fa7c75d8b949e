"""Hurrying a listener who fell behind a speaker: the translated audio still queued for
them is replaced by a faster copy (WSOLA time-scaling, pitch kept), made off the tick.

A listener more than `CatchUp.after_s` behind when the speaker starts talking again (or
when the next translation arrives) would otherwise hear all of it at its own rate
before the next one; hurried, the queue plays out at the catch-up rate, never faster
overall than `CatchUp.max_rate` (each run of frames knows the rate it was made at).
"""

from __future__ import annotations

import numpy as np

from common.tempo import stretch
from orchestrator.frames import FRAME_BYTES, RATE, Item, Snapshot, Tempo

FRAME_S = 0.02


def remake(snapshot: Snapshot, rate: float, max_rate: float) -> tuple[list[list[Item]], float, float]:
    """Each queued item's replacement with frames at `rate` (capped), the head's new rate, and seconds saved."""
    target = min(rate, max_rate)
    remade: list[list[Item]] = [[item] for item in snapshot.items]
    saved = 0.0
    head = snapshot.tempo
    tempo, start = snapshot.tempo, 0
    runs: list[tuple[int, int, float]] = []
    for i, item in enumerate([*snapshot.items, Tempo(0.0)]):
        if isinstance(item, bytes):
            continue
        if i > start:
            runs.append((start, i, tempo))
        if isinstance(item, Tempo):
            tempo = float(item)
        start = i + 1
    for first, end, made_at in runs:
        factor = target / made_at
        if factor <= 1.01:
            continue
        frames = _stretched(snapshot.items[first:end], factor)  # type: ignore[arg-type]
        count = end - first
        for t in range(count):
            remade[first + t] = frames[round(t * len(frames) / count) : round((t + 1) * len(frames) / count)]
        saved += (count - len(frames)) * FRAME_S
        tempo_at = next((i for i in range(first - 1, -1, -1) if isinstance(snapshot.items[i], Tempo)), None)
        if tempo_at is None:
            head = target
        else:
            remade[tempo_at] = [Tempo(target)]
    return remade, head, saved


def _stretched(frames: list[bytes], factor: float) -> list[Item]:
    """The frames played factor times as fast, as whole frames (the last padded with silence)."""
    audio = np.frombuffer(b"".join(frames), dtype="<i2").astype(np.float32) / 32768.0
    pcm = (np.clip(stretch(audio, RATE, factor), -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
