"""The conference: participants, the 20 ms frame loop, and routing between tiers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry import trace
from opentelemetry.context import Context

from common.errors import ResourceExhausted
from lingua.conference.v1 import conference_pb2
from lingua.stt.v1 import stt_pb2
from orchestrator import hurry, metrics, notices
from orchestrator.frames import SILENCE, InputBuffer, PlaybackQueue
from orchestrator.listening import CatchUp, Hearing, Pace, wall_ns
from orchestrator.pipeline import ASRQueue, MTQueue, Piece, Utterance
from orchestrator.stages import Stage
from orchestrator.synthesis import TTSQueue

log = logging.getLogger(__name__)
tracer = trace.get_tracer("lingua.orchestrator")

FRAME_S = 0.020
SENTENCE = re.compile(r"[.!?]$")

Notice = conference_pb2.Caption | conference_pb2.StageStatus
"""What caption watchers receive."""

STAGE_MEANING = {
    "stt": "speech recognition",
    "mt": "translation",
    "tts": "speech synthesis",
}


async def tick_forever(tick: Callable[[], None]) -> None:
    """Call tick every 20 ms on an absolute schedule (late ticks catch up, long stalls resync)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline += FRAME_S
        if loop.time() - deadline > 5 * FRAME_S:
            metrics.TICK_LATE.inc()
            deadline = loop.time()
        tick()
        await asyncio.sleep(max(0.0, deadline - loop.time()))


class Transport(Protocol):
    """Where a participant's audio goes: a SIP call's media channel or a Join stream."""

    def send(self, frame: bytes) -> None:
        """Send one 640-byte frame; must not block."""


@dataclass
class Participant:
    """One member of the conference and their per-participant tiers."""

    id: str
    name: str
    language: str
    profile_id: str
    transport: Transport
    kind: int
    joined_at: float = field(default_factory=time.time)
    input: InputBuffer = field(default_factory=InputBuffer)
    playback: PlaybackQueue = field(default_factory=PlaybackQueue)
    utterance: Utterance | None = None
    utterances: itertools.count = field(default_factory=lambda: itertools.count(1))
    asr: ASRQueue = field(init=False)
    mt: MTQueue = field(init=False)
    tts: TTSQueue = field(init=False)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    recent: metrics.Recent = field(default_factory=metrics.Recent)
    """Latencies of the participant's room, for GetMetrics."""
    muted: bool = False
    """Muted by a moderator: their audio reaches no one."""

    @property
    def label(self) -> str:
        """How logs name the participant."""
        return f"{self.name} [{self.id}, {self.language}]"

    def receive(self, audio: bytes) -> None:
        """Audio from the network into the jitter buffer."""
        if dropped := self.input.put(audio):
            metrics.DROPPED.labels("input", self.id).inc(dropped)
            if self.input.overflow == dropped or self.input.overflow % 500 < dropped:
                log.warning("input buffer overflow for %s: %d frames dropped so far", self.label, self.input.overflow)


class Conference:
    """All participants, ticked every 20 ms.

    Each tick takes one frame from every participant's InputBuffer, feeds it to
    their ASRQueue and straight into the PlaybackQueue of every listener of the
    same language, then mixes one frame per listener and sends it.
    """

    def __init__(
        self,
        stt: Stage,
        mt: Stage,
        tts: Stage,
        frame_span_ratio: float = 0.0,
        partials: bool = True,
        catch_up: CatchUp | None = None,
        max_participants: int = 5,
        room: str = "default",
        ids: Iterator[int] | None = None,
        occupancy: Callable[[], int] | None = None,
    ) -> None:
        """ids numbers participants (shared by rooms); occupancy counts who the limit applies to (all rooms)."""
        self.stt, self.mt, self.tts = stt, mt, tts
        self.max_participants = max_participants
        self.partials = partials
        self.catch_up = catch_up or CatchUp()
        self.pace = Pace()
        self.frame_span_ratio = frame_span_ratio
        self.participants: dict[str, Participant] = {}
        self._caption_watchers: list[tuple[str, asyncio.Queue[Notice]]] = []
        self._ids = ids or itertools.count(1)
        self.tick_cpu: deque[float] = deque(maxlen=3000)
        self._hurrying: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.recent = metrics.Recent(room)
        self.room = room
        self._occupancy = occupancy
        for stage in (stt, mt, tts):
            stage.listeners.append(self._stage_changed)
            metrics.STAGE_UP.labels(stage.name).set(1 if stage.available else 0)

    def check_room(self) -> None:
        """ResourceExhausted when one more participant would push the conference past real time."""
        present = self._occupancy() if self._occupancy else len(self.participants)
        if present >= self.max_participants:
            raise ResourceExhausted(
                f"the conference is full: {present} participants, the most this deployment serves "
                "in real time (--max-participants); try again later"
            )

    def join(self, name: str, language: str, profile_id: str, transport: Transport, kind: int) -> Participant:
        """Add a participant and start their tiers (ResourceExhausted when full)."""
        self.check_room()
        p = Participant(f"p{next(self._ids)}", name, language, profile_id, transport, kind, recent=self.recent)
        p.asr = ASRQueue(p, self.stt, lambda response, clock: self._on_recognition(p, response, clock), self.partials)
        p.mt = MTQueue(p, self, self.mt)
        p.tts = TTSQueue(p, self, self.tts)
        p.tasks = [asyncio.create_task(p.asr.run()), asyncio.create_task(p.mt.run())]
        self.participants[p.id] = p
        metrics.PARTICIPANTS.labels(self.room).set(len(self.participants))
        log.info("joined: %s (profile %s)", p.label, profile_id or "none")
        return p

    def leave(self, participant_id: str) -> None:
        """Remove a participant and stop their tiers."""
        p = self.participants.pop(participant_id, None)
        if p is None:
            return
        for task in p.tasks:
            task.cancel()
        p.tts.close()
        for other in self.participants.values():
            other.playback.remove(p.id)
        metrics.PARTICIPANTS.labels(self.room).set(len(self.participants))
        for tier in ("input", "asr", "playback"):
            with contextlib.suppress(KeyError):
                metrics.QUEUE_DEPTH.remove(tier, p.id)
        for tier in ("input", "asr", "stale"):  # labels per participant must not outlive them
            with contextlib.suppress(KeyError):
                metrics.DROPPED.remove(tier, p.id)
        log.info("left: %s", p.label)

    def close(self) -> None:
        """The room is gone: stop hearing its stages, drop its metrics."""
        metrics.forget_room(self.room)
        for stage in (self.stt, self.mt, self.tts):
            with contextlib.suppress(ValueError):
                stage.listeners.remove(self._stage_changed)

    def listener_languages(self, exclude: str) -> set[str]:
        """Languages someone listens in, other than exclude."""
        return {p.language for p in self.participants.values()} - {exclude}

    def listeners(self, speaker: Participant, language: str) -> list[Participant]:
        """Who hears speaker translated into language."""
        return [p for p in self.participants.values() if p.language == language and p is not speaker]

    def backlog(self, speaker: Participant, language: str) -> float:
        """Seconds of speaker's audio still queued for the furthest-behind listener of language."""
        return max((p.playback.queued_seconds(speaker.id) for p in self.listeners(speaker, language)), default=0.0)

    # The frame loop.

    async def run(self) -> None:
        """Tick this conference alone every 20 ms (Rooms ticks all of its rooms from one loop)."""
        await tick_forever(self.tick)

    def tick(self) -> None:
        """Move one frame through every participant (the orchestrator's per-frame work)."""
        now = time.perf_counter()
        cpu = time.thread_time()
        span = None
        if self.frame_span_ratio and random.random() < self.frame_span_ratio:
            span = tracer.start_span("frame", attributes={"lingua.participants": len(self.participants)})
        people = list(self.participants.values())
        for speaker in people:
            frame = speaker.input.take()
            if frame is None or speaker.muted:
                continue
            speaker.asr.push(frame, now)
            for listener in people:
                if listener is not speaker and listener.language == speaker.language:
                    listener.playback.push(speaker.id, [frame])
        for listener in people:
            listener.transport.send(listener.playback.mix() or SILENCE)
        elapsed = time.perf_counter() - now
        metrics.TICK_SECONDS.observe(elapsed)
        self.tick_cpu.append(time.thread_time() - cpu)
        if span is not None:
            span.end()

    def publish_depths(self) -> None:
        """Export queue depths (called from the metrics scrape path, not the tick)."""
        for p in self.participants.values():
            metrics.QUEUE_DEPTH.labels("input", p.id).set(len(p.input))
            metrics.QUEUE_DEPTH.labels("asr", p.id).set(p.asr.depth())
            metrics.QUEUE_DEPTH.labels("playback", p.id).set(p.playback.depth())

    # Recognition -> translation.

    def _on_recognition(
        self, p: Participant, response: stt_pb2.StreamingRecognizeResponse, clock: Callable[[float], float]
    ) -> None:
        if response.HasField("speech_event"):
            # A stream replayed after a break starts the speech again: the utterance in progress goes on.
            if response.speech_event.type == stt_pb2.SPEECH_EVENT_TYPE_SPEECH_START and p.utterance is None:
                self._start_utterance(p, clock(response.speech_event.offset.ToTimedelta().total_seconds()))
            return
        result = response.result
        utterance = p.utterance or self._start_utterance(p, clock(result.start_offset.ToTimedelta().total_seconds()))
        self.caption(utterance, p.language, result.transcript, final=result.is_final)
        if not result.is_final:
            self._commit_sentences(utterance, result.stable_transcript)
            if result.speculative:
                self._speculate(utterance, result.transcript)
            return
        utterance.final_at = time.perf_counter()
        utterance.speech_end = clock(result.end_offset.ToTimedelta().total_seconds())
        metrics.observe_stage("stt_final", utterance.final_at - utterance.speech_end, self.recent)
        utterance.span.set_attribute("lingua.text_length", len(result.transcript))
        utterance.stt_span.add_event("speech_end", timestamp=wall_ns(utterance.speech_end))
        utterance.stt_span.set_attributes(
            {"lingua.text_length": len(result.transcript), "lingua.detected_language": result.language_code}
        )
        utterance.stt_span.end()
        rest = " ".join(result.transcript.split()[utterance.words_sent :])
        p.mt.put(Piece(utterance, rest, final=True))
        p.utterance = None

    def _start_utterance(self, p: Participant, speech_start: float) -> Utterance:
        attributes = {"lingua.speaker": p.id, "lingua.speaker_name": p.name, "lingua.language": p.language}
        number = next(p.utterances)
        span = tracer.start_span(  # a root: one trace per utterance, not one per Join stream or call
            "utterance",
            context=Context(),
            start_time=wall_ns(speech_start),
            attributes={**attributes, "lingua.utterance": number},
        )
        stt = tracer.start_span(
            "stt",
            context=trace.set_span_in_context(span),
            start_time=wall_ns(speech_start),
            attributes={**attributes, "lingua.stt.server": self.stt.address},
        )
        p.utterance = Utterance(p, number, span, stt, speech_start)
        for listener in self.participants.values():
            if listener.language != p.language:
                self.hurry(listener, p)  # more of p's speech is coming: catch up on what is queued
        return p.utterance

    def _commit_sentences(self, utterance: Utterance, stable: str) -> None:
        """Send whole sentences of the stable prefix ahead of the final: lower latency on long turns."""
        words = stable.split()
        end = max((i + 1 for i, w in enumerate(words[:-1]) if SENTENCE.search(w)), default=0)
        if end > utterance.words_sent:
            piece = " ".join(words[utterance.words_sent : end])
            utterance.words_sent = end
            utterance.speaker.mt.put(Piece(utterance, piece, final=False))

    def _speculate(self, utterance: Utterance, transcript: str) -> None:
        """Translate and synthesize the STT's speculative final now; the final releases or retracts it."""
        rest = " ".join(transcript.split()[utterance.words_sent :])
        if not rest or utterance.speculation == (utterance.words_sent, rest):
            return
        utterance.speculation = (utterance.words_sent, rest)
        utterance.speaker.mt.put(Piece(utterance, rest, final=False, speculative=True))

    # Translation audio -> listeners.

    def deliver(self, utterance: Utterance, language: str, frames: list[bytes], rate: float | None = None) -> None:
        """Queue translated frames (made at speaking rate `rate`, if given) for every listener of language.

        A listener who is more than catch_up.drop_s behind on this speaker when a new
        utterance arrives has the stale audio dropped first; one more than
        catch_up.after_s behind is hurried.
        """
        speaker = utterance.speaker
        for listener in self.listeners(speaker, language):
            mark = None
            if listener.id not in utterance.heard_by:
                behind = listener.playback.queued_seconds(speaker.id)
                if behind > self.catch_up.drop_s:
                    dropped = listener.playback.drop(speaker.id)
                    metrics.DROPPED.labels("stale", listener.id).inc(dropped)
                    log.info("%s was %.1f s behind %s: dropped the stale audio", listener.label, behind, speaker.label)
                else:
                    self.hurry(listener, speaker)
                hearing = Hearing(utterance, listener.id, language, behind)
                utterance.heard_by[listener.id] = hearing
                mark = hearing.first
            listener.playback.push(speaker.id, frames, mark, rate)

    def hurry(self, listener: Participant, speaker: Participant) -> None:
        """Replace the translation of speaker queued for listener by a faster copy if they are behind on it."""
        behind = listener.playback.queued_seconds(speaker.id)
        key = (listener.id, speaker.id)
        if behind <= self.catch_up.after_s or key in self._hurrying:
            return
        snapshot = listener.playback.snapshot(speaker.id)
        rate = self.catch_up.rate(behind)

        async def run() -> None:
            try:
                remade, head, saved = await asyncio.to_thread(hurry.remake, snapshot, rate, self.catch_up.max_rate)
                if saved > 0 and listener.playback.replace(snapshot, remade, head):
                    metrics.HURRIED.inc(saved)
                    log.debug("%s hurried %.2f s behind %s: %.2f s saved", listener.label, behind, speaker.label, saved)
            finally:
                self._hurrying.discard(key)

        self._hurrying.add(key)
        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def delivered(self, utterance: Utterance, language: str) -> None:
        """All of utterance's audio in language is queued: mark its end for each of its listeners."""
        for listener in self.listeners(utterance.speaker, language):
            hearing = utterance.heard_by.get(listener.id)
            if hearing is not None:
                listener.playback.mark(utterance.speaker.id, hearing.last)

    # Captions and stage status.

    def caption(self, utterance: Utterance, language: str, text: str, final: bool) -> None:
        """Publish a transcript or translation to caption watchers."""
        caption = conference_pb2.Caption(
            speaker_participant_id=utterance.speaker.id,
            speaker_name=utterance.speaker.name,
            utterance_id=utterance.number,
            source_language_code=utterance.speaker.language,
            language_code=language,
            text=text,
            is_final=final,
        )
        for language_filter, queue in self._caption_watchers:
            if not language_filter or language_filter == language:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(caption)

    def stage_statuses(self) -> list[conference_pb2.StageStatus]:
        """Each stage's current status."""
        return [_status(stage) for stage in (self.stt, self.mt, self.tts)]

    def _stage_changed(self, stage: Stage) -> None:
        """Tell every watcher (Join streams and caption watchers) that a stage went down or came back;
        SIP callers hear "one moment please" when one goes down."""
        status = _status(stage)
        for _, queue in self._caption_watchers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(status)
        if not status.available:
            for p in self.participants.values():
                if p.kind == conference_pb2.TRANSPORT_SIP and not p.playback.queued_seconds(notices.SOURCE):
                    p.playback.push(notices.SOURCE, list(notices.prompt(notices.STAGE_DOWN, p.language)))

    def watch_captions(self, language: str) -> asyncio.Queue[Notice]:
        """A queue that receives captions (in language, or all if empty) and every stage status change."""
        queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize=1000)
        self._caption_watchers.append((language, queue))
        return queue

    def unwatch_captions(self, queue: asyncio.Queue[Notice]) -> None:
        self._caption_watchers = [w for w in self._caption_watchers if w[1] is not queue]


def _status(stage: Stage) -> conference_pb2.StageStatus:
    what = STAGE_MEANING.get(stage.name, stage.name)
    if stage.down_since is None:
        message = f"{what} is available"
    else:
        message = f"{what} is down: what is said now is translated when it is back (up to 30 s), not lost"
    status = conference_pb2.StageStatus(stage=stage.name, available=stage.down_since is None, message=message)
    status.change_time.FromNanoseconds(int(stage.changed_at * 1e9))
    return status
