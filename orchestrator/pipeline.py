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
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from orchestrator import metrics
from orchestrator.frames import RATE, Reframer
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
    heard_by: dict[str, Hearing] = field(default_factory=dict)
    """Listener id -> their hearing of this utterance, from its first translated frame."""

    def context(self) -> Context:
        """The trace context of its span: what its stage spans are children of."""
        return trace.set_span_in_context(self.span)


@dataclass
class Piece:
    """Committed words of an utterance, ready to translate; final ends the utterance."""

    utterance: Utterance
    text: str
    final: bool


class ASRQueue:
    """Streams one speaker's frames to speech-to-text and reports its responses.

    Frames go in from the tick. A broken stream reconnects with backoff (failing
    over to the next server) and replays the last `lookback` frames so the words
    being spoken when it broke are not lost.
    """

    def __init__(
        self,
        speaker: Participant,
        stage: Stage,
        on_response: Callable[[stt_pb2.StreamingRecognizeResponse, Callable[[float], float]], None],
        partials: bool = True,
        lookback: int = 50,
    ) -> None:
        self.speaker = speaker
        self.partials = partials
        self.stage = stage
        self.on_response = on_response
        self.dropped = 0
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=500)
        self._lookback: deque[bytes] = deque(maxlen=lookback)
        self._frame_times: deque[float] = deque(maxlen=30 * 50)
        self._frames_fed = 0

    def push(self, frame: bytes, now: float) -> None:
        """Queue one frame heard at `now` (called by the tick; never blocks)."""
        self._frame_times.append(now)
        self._frames_fed += 1
        self._lookback.append(frame)
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1
            metrics.DROPPED.labels("asr", self.speaker.id).inc()

    def depth(self) -> int:
        return self._queue.qsize()

    def _clock(self, base: int) -> Callable[[float], float]:
        """Maps a stream offset (seconds) to the wall time its frame was heard."""

        def wall_time(offset: float) -> float:
            first = self._frames_fed - len(self._frame_times)
            index = min(max(base + round(offset * 50) - 1 - first, 0), len(self._frame_times) - 1)
            return self._frame_times[index] if self._frame_times else time.perf_counter()

        return wall_time

    async def run(self) -> None:
        """Keep a recognition stream open for as long as the speaker is here."""
        backoff = Backoff()
        replay: list[bytes] = []
        while True:
            base = self._frames_fed - len(replay)
            try:
                await self._stream(replay, self._clock(base), backoff)
                return
            except grpc.RpcError as error:
                metrics.STAGE_ERRORS.labels("stt").inc()
                if not retryable(error):
                    log.error("stt refused %s's stream: %s", self.speaker.label, error)
                    return
                self.stage.failed(error)
                replay = list(self._lookback)
                await backoff.wait()

    async def _stream(self, replay: list[bytes], clock: Callable[[float], float], backoff: Backoff) -> None:
        async def requests() -> AsyncIterator[stt_pb2.StreamingRecognizeRequest]:
            config = stt_pb2.RecognitionConfig(
                language_code=self.speaker.language, format=LINEAR16, interim_results=self.partials
            )
            yield stt_pb2.StreamingRecognizeRequest(config=config)
            if replay:
                yield stt_pb2.StreamingRecognizeRequest(audio=b"".join(replay))
            while True:
                frame = await self._queue.get()
                yield stt_pb2.StreamingRecognizeRequest(audio=frame)

        stub = stt_pb2_grpc.SpeechToTextServiceStub(self.stage.channel())
        call = stub.StreamingRecognize(requests(), metadata=outgoing_metadata())
        async for response in call:
            backoff.reset()
            self.on_response(response, clock)


class MTQueue:
    """Translates a speaker's committed pieces, in order, into every listener language."""

    def __init__(self, speaker: Participant, conference: Conference, stage: Stage) -> None:
        self.speaker = speaker
        self.conference = conference
        self.stage = stage
        self._queue: asyncio.Queue[Piece] = asyncio.Queue()

    def put(self, piece: Piece) -> None:
        self._queue.put_nowait(piece)

    def depth(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        while True:
            piece = await self._queue.get()
            targets = self.conference.listener_languages(exclude=self.speaker.language)
            started = time.perf_counter()
            with tracer.start_as_current_span("mt", context=piece.utterance.context()) as span:
                span.set_attributes(
                    {
                        "lingua.source_language": self.speaker.language,
                        "lingua.targets": sorted(targets),
                        "lingua.text_length": len(piece.text),
                        "lingua.final": piece.final,
                    }
                )
                results = await asyncio.gather(*(self._translate(piece.text, t) for t in sorted(targets)))
            if targets:
                metrics.observe_stage("mt", time.perf_counter() - started)
            for target, text in zip(sorted(targets), results, strict=True):
                if text is not None:
                    self.conference.caption(piece.utterance, target, text, final=True)
                    self.speaker.tts.put(piece.utterance, target, text, piece.final)
            if piece.final:
                self.speaker.tts.finish(piece.utterance, targets)

    async def _translate(self, text: str, target: str) -> str | None:
        request = mt_pb2.TranslateRequest(
            source_language_code=self.speaker.language, target_language_code=target, text=text
        )
        for _ in range(len(self.stage.addresses)):
            try:
                stub = mt_pb2_grpc.TranslatorServiceStub(self.stage.channel())
                response = await stub.Translate(request, timeout=5, metadata=outgoing_metadata())
                return response.text
            except grpc.RpcError as error:
                metrics.STAGE_ERRORS.labels("mt").inc()
                if not retryable(error):
                    log.warning(
                        "mt refused %s -> %s for %s: %s", self.speaker.language, target, self.speaker.label, error
                    )
                    return None
                self.stage.failed(error)
        return None


class _Synthesis:
    """One utterance spoken in one language: a StreamingSynthesize call."""

    def __init__(self, tts: TTSQueue, utterance: Utterance, language: str) -> None:
        self.tts = tts
        self.utterance = utterance
        self.language = language
        self.texts: list[str] = []
        self.finished = False
        self.requests: asyncio.Queue[tts_pb2.StreamingSynthesizeRequest | None] = asyncio.Queue()
        self.task = asyncio.create_task(self.run())

    def say(self, text: str) -> None:
        self.texts.append(text)
        self.requests.put_nowait(tts_pb2.StreamingSynthesizeRequest(text=tts_pb2.TextInput(text=text + " ")))

    def finish(self) -> None:
        self.finished = True
        self.requests.put_nowait(tts_pb2.StreamingSynthesizeRequest(flush=tts_pb2.Flush()))
        self.requests.put_nowait(None)

    async def run(self) -> None:
        speaker = self.tts.speaker
        conference = self.tts.conference
        backlog = conference.backlog(speaker, self.language)
        rate = conference.catch_up.rate(backlog)
        config = tts_pb2.SynthesisConfig(language_code=self.language, format=LINEAR16, speaking_rate=rate)
        if speaker.profile_id:
            config.voice_profile_id = speaker.profile_id

        async def requests() -> AsyncIterator[tts_pb2.StreamingSynthesizeRequest]:
            yield tts_pb2.StreamingSynthesizeRequest(config=config)
            while (request := await self.requests.get()) is not None:
                yield request

        with tracer.start_as_current_span("tts", context=self.utterance.context()) as span:
            span.set_attributes(
                {"lingua.language": self.language, "lingua.speaking_rate": rate, "lingua.backlog_s": round(backlog, 3)}
            )
            try:
                await self._synthesize(config, requests, span)
            finally:
                span.set_attribute("lingua.text_length", sum(len(t) for t in self.texts))
                conference.delivered(self.utterance, self.language)

    async def _synthesize(
        self,
        config: tts_pb2.SynthesisConfig,
        requests: Callable[[], AsyncIterator[tts_pb2.StreamingSynthesizeRequest]],
        span: trace.Span,
    ) -> None:
        stage = self.tts.stage
        speaker = self.tts.speaker
        delivered = False
        for attempt in range(len(stage.addresses) + 1):
            if attempt:
                self._requeue()
            sent = time.perf_counter()
            reframer = Reframer()
            try:
                stub = tts_pb2_grpc.TextToSpeechServiceStub(stage.channel())
                call = stub.StreamingSynthesize(requests(), metadata=outgoing_metadata())
                async for response in call:
                    if response.HasField("audio"):
                        if not delivered:
                            delivered = True
                            metrics.observe_stage("tts_first_audio", time.perf_counter() - sent)
                            span.add_event("first_audio", {"lingua.tts.server": stage.address})
                        frames = reframer.split(response.audio.audio_content)
                        self.tts.conference.deliver(self.utterance, self.language, frames)
                return
            except grpc.RpcError as error:
                metrics.STAGE_ERRORS.labels("tts").inc()
                if not delivered and _unknown_profile(error) and config.voice_profile_id:
                    log.warning("no voice profile %r for %s: using a default voice", speaker.profile_id, speaker.label)
                    speaker.profile_id = ""
                    config.ClearField("voice")
                    continue
                if delivered or not retryable(error):
                    log.warning("tts failed for %s (%s): %s", speaker.label, self.language, error)
                    return
                stage.failed(error)

    def _requeue(self) -> None:
        """Rebuild the request queue for a retry: every text so far, then the end if it came."""
        while not self.requests.empty():
            self.requests.get_nowait()
        for text in self.texts:
            self.requests.put_nowait(tts_pb2.StreamingSynthesizeRequest(text=tts_pb2.TextInput(text=text + " ")))
        if self.finished:
            self.finish()


def _unknown_profile(error: grpc.RpcError) -> bool:
    return isinstance(error, grpc.aio.AioRpcError) and error.code() == grpc.StatusCode.NOT_FOUND


class TTSQueue:
    """Speaks a speaker's translations: one synthesis stream per utterance and language."""

    def __init__(self, speaker: Participant, conference: Conference, stage: Stage) -> None:
        self.speaker = speaker
        self.conference = conference
        self.stage = stage
        self._open: dict[tuple[int, str], _Synthesis] = {}

    def put(self, utterance: Utterance, language: str, text: str, final: bool) -> None:
        key = (utterance.number, language)
        if key not in self._open:
            self._open[key] = _Synthesis(self, utterance, language)
        self._open[key].say(text)

    def finish(self, utterance: Utterance, languages: set[str]) -> None:
        """The utterance is complete: flush its streams and end its span when they are done."""
        streams = [
            self._open.pop((utterance.number, lang)) for lang in languages if (utterance.number, lang) in self._open
        ]
        for stream in streams:
            stream.finish()

        async def end() -> None:
            await asyncio.gather(*(s.task for s in streams), return_exceptions=True)
            utterance.span.end()

        asyncio.get_running_loop().create_task(end())

    def depth(self) -> int:
        return len(self._open)

    def close(self) -> None:
        for stream in self._open.values():
            stream.task.cancel()
        self._open.clear()
