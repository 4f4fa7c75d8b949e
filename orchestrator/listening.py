"""What a listener hears of one utterance: its playback span and latencies, and the
catch-up policy for listeners who fall behind a speaker's translated audio."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace

from orchestrator import metrics

if TYPE_CHECKING:
    from orchestrator.pipeline import Utterance

tracer = trace.get_tracer("lingua.orchestrator")


def wall_ns(perf: float) -> int:
    """A perf_counter time as Unix nanoseconds (span timestamps)."""
    return time.time_ns() - round((time.perf_counter() - perf) * 1e9)


@dataclass(frozen=True)
class CatchUp:
    """How listeners are kept in step with a speaker's translations.

    A translation expected to last longer than the speech it translates is
    synthesized faster, to keep pace with the speaker. With more than `after_s`
    of the speaker's translated audio still queued for a listener, the next
    utterance is faster still (speaking rate rising `rate_per_s` per second
    behind); never beyond `max_rate`. With more than `drop_s` queued when a new
    utterance's audio arrives, the stale audio is dropped (counted in
    lingua_dropped_frames_total{tier="stale"}) and the new one plays.
    """

    after_s: float = 0.5
    rate_per_s: float = 0.25
    max_rate: float = 1.5
    drop_s: float = 4.0

    def rate(self, backlog_s: float, expected_s: float = 0.0, spoken_s: float = 0.0) -> float:
        """The speaking rate for a listener backlog_s behind, for audio expected_s long translating spoken_s."""
        rate = 1.0 if backlog_s <= self.after_s else 1.0 + (backlog_s - self.after_s) * self.rate_per_s
        if spoken_s > 0:
            rate = max(rate, expected_s / spoken_s)
        return min(self.max_rate, rate)


class Pace:
    """Seconds of synthesized audio per character of text, per language, at speaking rate 1 (learnt)."""

    INITIAL = 0.075
    WEIGHT = 0.3

    def __init__(self) -> None:
        self._per_char: dict[str, float] = {}

    def expect(self, language: str, chars: int) -> float:
        """Seconds of audio chars of text in language are expected to take at rate 1."""
        return chars * self._per_char.get(language, self.INITIAL)

    def learn(self, language: str, chars: int, audio_s: float, rate: float) -> None:
        """Fold in one synthesis: chars of text that took audio_s at rate."""
        if chars <= 0 or audio_s <= 0:
            return
        seen = audio_s * rate / chars
        old = self._per_char.get(language)
        self._per_char[language] = seen if old is None else old + self.WEIGHT * (seen - old)


class Hearing:
    """One listener hearing one translated utterance: marks on their playback queue.

    The first mark opens a `playback` span (child of the utterance) when the first
    frame plays, and records end of speech -> first audio; the last closes it when
    the last frame has played, and records end of speech -> end of audio (the lag).
    """

    def __init__(self, utterance: Utterance, listener_id: str, language: str, backlog_s: float) -> None:
        self.utterance = utterance
        self.listener_id = listener_id
        self.language = language
        self.backlog_s = backlog_s
        self.span: trace.Span | None = None
        self.finished = False

    def first(self, played: bool) -> None:
        """Mark on the utterance's first frame."""
        if not played:
            metrics.UTTERANCES_DROPPED.labels(self.utterance.speaker.recent.room).inc()
            self.finished = True
            return
        now = time.perf_counter()
        attributes: dict[str, str | float] = {
            "lingua.listener": self.listener_id,
            "lingua.language": self.language,
            "lingua.backlog_s": round(self.backlog_s, 3),
        }
        end = self.utterance.speech_end
        if end is not None:
            metrics.observe_end_to_end(now - end, self.utterance.speaker.recent)
            attributes["lingua.latency_ms"] = round((now - end) * 1000, 1)
        metrics.BACKLOG.observe(self.backlog_s)
        self.span = tracer.start_span(
            "playback", context=self.utterance.context(), start_time=wall_ns(now), attributes=attributes
        )

    def last(self, played: bool) -> None:
        """Mark after the utterance's last frame."""
        if self.finished:
            return
        self.finished = True
        end = self.utterance.speech_end
        if played and end is not None:
            metrics.observe_stage("speech_end_to_last_audio", time.perf_counter() - end, self.utterance.speaker.recent)
        if self.span is not None:
            self.span.set_attribute("lingua.cut", not played)
            self.span.end()
