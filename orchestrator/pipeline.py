"""The three streaming tiers between a speaker's frames and their listeners' playback.

ASRQueue streams a speaker's frames to speech-to-text; MTQueue translates each
committed piece of an utterance into every listener language; TTSQueue speaks
each translation in the speaker's voice and hands whole 20 ms frames to the
listeners' PlaybackQueues.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc
from opentelemetry import trace
from opentelemetry.context import Context

from common.telemetry import outgoing_metadata
from lingua.audio.v1 import audio_pb2
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from lingua.stt.v1 import stt_pb2, stt_pb2_grpc
from orchestrator import metrics
from orchestrator.frames import RATE
from orchestrator.stages import Backoff, Stage, retryable

if TYPE_CHECKING:
    from orchestrator.conference import Conference, Participant
    from orchestrator.listening import Hearing

log = logging.getLogger(__name__)
tracer = trace.get_tracer("lingua.orchestrator")

LINEAR16 = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE)


@dataclass
class Utterance:
    """One utterance of one speaker, from speech start to its last translated audio."""

    speaker: Participant
    number: int
    span: trace.Span
    stt_span: trace.Span
    """From speech start to the final transcript (its `speech_end` event marks the end of speech)."""
    speech_start: float
    speech_end: float | None = None
    final_at: float | None = None
    words_sent: int = 0
    speculation: tuple[int, str] | None = None
    """(words_sent, text) of the piece translated from the STT's speculative final, while it is held."""
    heard_by: dict[str, Hearing] = field(default_factory=dict)
    """Listener id -> their hearing of this utterance, from its first translated frame."""

    def context(self) -> Context:
        """The trace context of its span: what its stage spans are children of."""
        return trace.set_span_in_context(self.span)


@dataclass
class Piece:
    """Words of an utterance, ready to translate: committed, final (the utterance's rest),
    or speculative (the STT's speculative final, synthesized and held until the final)."""

    utterance: Utterance
    text: str
    final: bool
    speculative: bool = False


class ASRQueue:
    """Streams one speaker's frames to speech-to-text and reports its responses.

    Frames go in from the tick. While no server answers they wait in a bounded
    buffer (`outage_frames`, 30 s; overflow is dropped and counted). A broken
    stream reconnects with backoff (failing over to the next server) and replays
    what the STT may not have finished with: every frame sent since the start of
    the speech it has not given a final for (at least `lookback`, at most
    `replay_frames`), so the words being spoken when it broke are recognized,
    not lost.
    """

    def __init__(
        self,
        speaker: Participant,
        stage: Stage,
        on_response: Callable[[stt_pb2.StreamingRecognizeResponse, Callable[[float], float]], None],
        partials: bool = True,
        lookback: int = 50,
        replay_frames: int = 15 * 50,
        outage_frames: int = 30 * 50,
    ) -> None:
        self.speaker = speaker
        self.partials = partials
        self.stage = stage
        self.on_response = on_response
        self.dropped = 0
        self.lookback = lookback
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=outage_frames)
        self._sent: deque[bytes] = deque(maxlen=replay_frames)
        """The last frames sent, the newest last; frame number `_next - len(_sent)` first."""
        self._next = 0
        """Number of the next frame to send (frames count from 0 in the order queued)."""
        self._speech_from: int | None = None
        """Number of the frame where speech without a final yet began, if any."""
        self._frame_times: deque[float] = deque(maxlen=outage_frames + replay_frames)
        self._frames_queued = 0

    def push(self, frame: bytes, now: float) -> None:
        """Queue one frame heard at `now` (called by the tick; never blocks)."""
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1
            metrics.DROPPED.labels("asr", self.speaker.id).inc()
            return
        self._frame_times.append(now)
        self._frames_queued += 1

    def depth(self) -> int:
        return self._queue.qsize()

    def _clock(self, base: int) -> Callable[[float], float]:
        """Maps a stream offset (seconds) to the wall time its frame was heard."""

        def wall_time(offset: float) -> float:
            first = self._frames_queued - len(self._frame_times)
            index = min(max(base + round(offset * 50) - 1 - first, 0), len(self._frame_times) - 1)
            return self._frame_times[index] if self._frame_times else time.perf_counter()

        return wall_time

    def _replay(self) -> list[bytes]:
        """The sent frames a new stream must hear again."""
        unfinished = 0 if self._speech_from is None else self._next - self._speech_from
        return list(self._sent)[-max(unfinished, self.lookback) :] if self._sent else []

    async def run(self) -> None:
        """Keep a recognition stream open for as long as the speaker is here."""
        backoff = Backoff(initial=0.1, cap=1.0)
        replay: list[bytes] = []
        while True:
            address, started = self.stage.address, time.monotonic()
            try:
                await self._stream(replay, self._next - len(replay), backoff, address)
                return
            except grpc.RpcError as error:
                metrics.STAGE_ERRORS.labels("stt").inc()
                if not retryable(error):
                    log.error("stt refused %s's stream: %s", self.speaker.label, error)
                    return
                self.stage.failed(error, address, started)
                replay = self._replay()
                if not self.stage.available:
                    await backoff.wait()

    async def _stream(self, replay: list[bytes], base: int, backoff: Backoff, address: str) -> None:
        async def requests() -> AsyncIterator[stt_pb2.StreamingRecognizeRequest]:
            config = stt_pb2.RecognitionConfig(
                language_code=self.speaker.language, format=LINEAR16, interim_results=self.partials
            )
            yield stt_pb2.StreamingRecognizeRequest(config=config)
            if replay:
                yield stt_pb2.StreamingRecognizeRequest(audio=b"".join(replay))
            while True:
                frame = await self._queue.get()
                self._sent.append(frame)
                self._next += 1
                yield stt_pb2.StreamingRecognizeRequest(audio=frame)

        clock = self._clock(base)
        stub = stt_pb2_grpc.SpeechToTextServiceStub(self.stage.channel())
        call = stub.StreamingRecognize(requests(), metadata=outgoing_metadata())
        async for response in call:
            backoff.reset()
            self.stage.ok(address)
            if response.result.is_final:
                self._speech_from = None
            elif response.speech_event.type == stt_pb2.SPEECH_EVENT_TYPE_SPEECH_START and self._speech_from is None:
                self._speech_from = base + round(response.speech_event.offset.ToTimedelta().total_seconds() * 50)
            self.on_response(response, clock)


class MTQueue:
    """Translates a speaker's committed pieces, in order, into every listener language.

    While every MT server is down a piece is retried (capped backoff) for up to
    `hold_s`, and the pieces after it wait their turn: an outage delays
    translations rather than losing them. Past hold_s, or past `limit` pieces
    waiting, a piece is dropped and counted in lingua_outage_lost_total{stage="mt"}.
    """

    HOLD_S = 30.0
    TIMEOUT_S = 3.0

    def __init__(
        self, speaker: Participant, conference: Conference, stage: Stage, hold_s: float = HOLD_S, limit: int = 100
    ) -> None:
        self.speaker = speaker
        self.conference = conference
        self.stage = stage
        self.hold_s = hold_s
        self._queue: asyncio.Queue[Piece] = asyncio.Queue(maxsize=limit)

    def put(self, piece: Piece) -> None:
        try:
            self._queue.put_nowait(piece)
        except asyncio.QueueFull:
            metrics.OUTAGE_LOST.labels("mt").inc()
            log.error("mt backlog full for %s: %r not translated", self.speaker.label, piece.text)

    def depth(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        tts = self.speaker.tts
        while True:
            piece = await self._queue.get()
            utterance = piece.utterance
            targets = self.conference.listener_languages(exclude=self.speaker.language)
            if piece.final and utterance.speculation is not None:
                confirmed = utterance.speculation == (utterance.words_sent, piece.text)
                texts = tts.confirm(utterance, targets) if confirmed else None
                utterance.speculation = None
                if texts is not None:
                    for target, said in texts.items():
                        self.conference.caption(utterance, target, said, final=True)
                    tts.finish(utterance, targets)
                    continue
                tts.retract(utterance)
            started = time.perf_counter()
            with tracer.start_as_current_span("mt", context=piece.utterance.context()) as span:
                span.set_attributes(
                    {
                        "lingua.source_language": self.speaker.language,
                        "lingua.targets": sorted(targets),
                        "lingua.text_length": len(piece.text),
                        "lingua.final": piece.final,
                        "lingua.speculative": piece.speculative,
                    }
                )
                results = await asyncio.gather(*(self._translate(piece.text, t) for t in sorted(targets)))
            if targets:
                metrics.observe_stage("mt", time.perf_counter() - started, self.conference.recent)
            for target, text in zip(sorted(targets), results, strict=True):
                if text is None:
                    continue
                if piece.speculative:
                    tts.speculate(utterance, target, text)
                else:
                    self.conference.caption(utterance, target, text, final=True)
                    tts.put(utterance, target, text, piece.final)
            if piece.final:
                tts.finish(utterance, targets)

    async def _translate(self, text: str, target: str) -> str | None:
        request = mt_pb2.TranslateRequest(
            source_language_code=self.speaker.language, target_language_code=target, text=text
        )
        backoff = Backoff(initial=0.1, cap=1.0)
        deadline = time.monotonic() + self.hold_s
        while True:
            address, started = self.stage.address, time.monotonic()
            try:
                stub = mt_pb2_grpc.TranslatorServiceStub(self.stage.channel())
                response = await stub.Translate(request, timeout=self.TIMEOUT_S, metadata=outgoing_metadata())
                self.stage.ok(address)
                return response.text
            except grpc.RpcError as error:
                metrics.STAGE_ERRORS.labels("mt").inc()
                if not retryable(error):
                    log.warning(
                        "mt refused %s -> %s for %s: %s", self.speaker.language, target, self.speaker.label, error
                    )
                    return None
                self.stage.failed(error, address, started)
                if time.monotonic() > deadline:
                    metrics.OUTAGE_LOST.labels("mt").inc()
                    log.error("mt down for %.0f s: %s's %r not translated", self.hold_s, self.speaker.label, text)
                    return None
                if not self.stage.available:
                    await backoff.wait()
