"""Prometheus metrics, and recent-value summaries for the GetMetrics RPC."""

from __future__ import annotations

import contextlib
from collections import deque

import numpy as np
from prometheus_client import REGISTRY, Counter, Gauge, Histogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.2, 1.5, 2.0, 3.0, 5.0)

STAGE_LATENCY = Histogram(
    "lingua_stage_latency_seconds",
    "Per-stage latency: stt_final (end of speech to final), mt, tts_first_audio, speech_end_to_last_audio",
    ["stage"],
    buckets=BUCKETS,
)
END_TO_END = Histogram(
    "lingua_speech_end_to_first_audio_seconds",
    "End of a speaker's utterance to the first translated frame played to a listener, per room",
    ["room"],
    buckets=BUCKETS,
)
TICK_SECONDS = Histogram(
    "lingua_tick_seconds",
    "Work done in one 20 ms frame tick",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05),
)
TICK_LATE = Counter(
    "lingua_tick_late_total", "Ticks that started more than five frames late (the schedule then resyncs)"
)
QUEUE_DEPTH = Gauge("lingua_queue_depth_frames", "Frames queued per tier and participant", ["tier", "participant"])
DROPPED = Counter(
    "lingua_dropped_frames_total",
    "Frames dropped per tier (input, asr, stale: translation a listener fell too far behind on) and participant",
    ["tier", "participant"],
)
BACKLOG = Histogram(
    "lingua_listener_backlog_seconds",
    "A speaker's translated audio still queued for a listener when the next utterance starts playing",
    buckets=(0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0),
)
UTTERANCES_DROPPED = Counter(
    "lingua_utterances_dropped_total",
    "Translated utterances dropped unheard, per room: the listener was too far behind",
    ["room"],
)
HURRIED = Counter(
    "lingua_hurried_seconds_total",
    "Seconds of queued translated audio saved by playing it faster to listeners who fell behind",
)
SPECULATION = Counter(
    "lingua_speculative_translations_total",
    "Utterances translated from the STT's speculative final before the endpoint: confirmed by the final, or retracted",
    ["outcome"],
)
STAGE_ERRORS = Counter("lingua_stage_errors_total", "Failed calls to a stage server", ["stage"])
OUTAGE_LOST = Counter(
    "lingua_outage_lost_total", "Pieces dropped because every server of a stage stayed down too long", ["stage"]
)
STAGE_UP = Gauge("lingua_stage_up", "1 while some server of the stage answers, 0 once every one has failed", ["stage"])
STAGE_DOWNS = Counter("lingua_stage_down_total", "Times every server of a stage failed (an outage began)", ["stage"])
STAGE_DOWN_SECONDS = Counter(
    "lingua_stage_down_seconds_total", "Seconds stages spent with every server failing (ended outages)", ["stage"]
)
MEDIA_REJECTED = Counter(
    "lingua_media_rejected_total",
    "Media input dropped unheard as malformed or from a stranger, per transport (websocket, rtp) and reason",
    ["transport", "reason"],
)
PARTICIPANTS = Gauge("lingua_participants", "Participants per room", ["room"])
PER_ROOM = (END_TO_END, UTTERANCES_DROPPED, PARTICIPANTS)
"""The metrics labelled by room (stage latencies are not: the stage servers are shared)."""


class Recent:
    """The last values of named measurements in one room, for percentiles."""

    def __init__(self, room: str = "default", size: int = 2000) -> None:
        self.room = room
        self.size = size
        self._values: dict[str, deque[float]] = {}
        self._counts: dict[str, int] = {}

    def add(self, name: str, seconds: float) -> None:
        self._values.setdefault(name, deque(maxlen=self.size)).append(seconds)
        self._counts[name] = self._counts.get(name, 0) + 1

    def summary(self) -> dict[str, tuple[int, float, float, float]]:
        """name -> (count, p50 ms, p95 ms, max ms)."""
        out = {}
        for name, values in self._values.items():
            ms = np.asarray(values) * 1000
            out[name] = (self._counts[name], *np.percentile(ms, [50, 95]).tolist(), float(ms.max()))
        return out


def late_ticks() -> int:
    """Ticks counted late so far (lingua_tick_late_total)."""
    return int(REGISTRY.get_sample_value("lingua_tick_late_total") or 0)


def observe_stage(stage: str, seconds: float, recent: Recent) -> None:
    """Record one stage latency (recent: the room's)."""
    STAGE_LATENCY.labels(stage).observe(seconds)
    recent.add(stage, seconds)


def observe_end_to_end(seconds: float, recent: Recent) -> None:
    """Record one end-of-speech to first-audio latency (recent: the room's)."""
    END_TO_END.labels(recent.room).observe(seconds)
    recent.add("speech_end_to_first_audio", seconds)


def forget_room(room: str) -> None:
    """Drop a deleted room's series."""
    for metric in PER_ROOM:
        with contextlib.suppress(KeyError):
            metric.remove(room)
