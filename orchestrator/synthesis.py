"""TTSQueue: each translated utterance spoken in the speaker's voice, one synthesis
stream per utterance and listener language, its whole 20 ms frames handed to the
listeners' PlaybackQueues. A speculative stream (the translation of the STT's
speculative final, made before the endpoint) holds its audio until the final
confirms it, and is dropped unheard if the final differs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import grpc
from opentelemetry import trace

from common.telemetry import outgoing_metadata
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from orchestrator import metrics
from orchestrator.frames import FRAME_SAMPLES, RATE, Reframer
from orchestrator.pipeline import LINEAR16, Utterance
from orchestrator.stages import Backoff, Stage, retryable

if TYPE_CHECKING:
    from orchestrator.conference import Conference, Participant

log = logging.getLogger(__name__)
tracer = trace.get_tracer("lingua.orchestrator")


class _Synthesis:
    """One utterance spoken in one language: a StreamingSynthesize call.

    A held one keeps its frames until released (after the stream before it, if
    any, has delivered all of its own), or is cancelled unheard.
    """

    def __init__(self, tts: TTSQueue, utterance: Utterance, language: str, held: bool = False) -> None:
        self.tts = tts
        self.utterance = utterance
        self.language = language
        self.texts: list[str] = []
        self.finished = False
        self.held = held
        self.buffer: list[bytes] = []
        self.frames = 0
        self.rate = 1.0
        """The speaking rate asked of TTS."""
        self._rated = False
        self.released: asyncio.Task[None] | None = None
        self.requests: asyncio.Queue[tts_pb2.StreamingSynthesizeRequest | None] = asyncio.Queue()
        self.task = asyncio.create_task(self.run())

    def release(self, after: _Synthesis | None) -> None:
        """Let a held stream's audio through, once after's has all been delivered."""

        async def go() -> None:
            if after is not None:
                await asyncio.gather(after.task, return_exceptions=True)
            self.held = False
            if self.buffer:
                self._hand(self.buffer)
                self.buffer = []

        self.released = asyncio.create_task(go())

    def deliver(self, frames: list[bytes]) -> None:
        self.frames += len(frames)
        if self.held:
            self.buffer.extend(frames)
        else:
            self._hand(frames)

    def _hand(self, frames: list[bytes]) -> None:
        """To the listeners; the first frames carry the rate they were made at."""
        rate = None if self._rated else self.rate
        self._rated = True
        self.tts.conference.deliver(self.utterance, self.language, frames, rate)

    async def done(self) -> None:
        """Until its audio is all synthesized and (if it was held) released."""
        await asyncio.gather(self.task, return_exceptions=True)
        if self.released is not None:
            await asyncio.gather(self.released, return_exceptions=True)

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
        utterance = self.utterance
        spoken = (utterance.speech_end or time.perf_counter()) - utterance.speech_start
        expected = conference.pace.expect(self.language, sum(len(t) for t in self.texts))
        rate = self.rate = conference.catch_up.rate(backlog, expected, spoken)
        config = tts_pb2.SynthesisConfig(language_code=self.language, format=LINEAR16, speaking_rate=rate)
        if speaker.profile_id:
            config.voice_profile_id = speaker.profile_id

        async def requests() -> AsyncIterator[tts_pb2.StreamingSynthesizeRequest]:
            yield tts_pb2.StreamingSynthesizeRequest(config=config)
            while (request := await self.requests.get()) is not None:
                yield request

        with tracer.start_as_current_span("tts", context=self.utterance.context()) as span:
            span.set_attributes(
                {
                    "lingua.language": self.language,
                    "lingua.speaking_rate": rate,
                    "lingua.backlog_s": round(backlog, 3),
                    "lingua.speculative": self.held,
                }
            )
            completed = await self._synthesize(config, requests, span)
            chars = sum(len(t) for t in self.texts)
            span.set_attribute("lingua.text_length", chars)
            if completed:  # a failed or cut stream's audio says nothing about the voice's pace
                conference.pace.learn(self.language, chars, self.frames * FRAME_SAMPLES / RATE, rate)

    async def _synthesize(
        self,
        config: tts_pb2.SynthesisConfig,
        requests: Callable[[], AsyncIterator[tts_pb2.StreamingSynthesizeRequest]],
        span: trace.Span,
    ) -> bool:
        """Stream the texts with failover; whether all of the audio came.

        A stream that breaks is synthesized again from its first text on the next
        server (or the same one once it is back, for up to HOLD_S), and the frames
        already delivered are skipped: the listener hears the rest, not a repeat.
        """
        stage = self.tts.stage
        speaker = self.tts.speaker
        backoff = Backoff(initial=0.1, cap=1.0)
        deadline = time.monotonic() + self.tts.hold_s
        tries = 0
        timed = False
        while True:
            if tries:
                self._requeue()
            tries += 1
            if not speaker.profile_id and config.WhichOneof("voice") == "voice_profile_id":
                config.ClearField("voice")  # another stream found the profile missing
            sent = time.perf_counter()
            reframer = Reframer()
            skip = self.frames
            address, started = stage.address, time.monotonic()
            try:
                stub = tts_pb2_grpc.TextToSpeechServiceStub(stage.channel())
                call = stub.StreamingSynthesize(requests(), metadata=outgoing_metadata())
                async for response in call:
                    stage.ok(address)
                    if not response.HasField("audio"):
                        continue
                    if not timed:
                        timed = True
                        metrics.observe_stage("tts_first_audio", time.perf_counter() - sent, self.tts.conference.recent)
                        span.add_event("first_audio", {"lingua.tts.server": address})
                    frames = reframer.split(response.audio.audio_content)
                    cut = min(skip, len(frames))
                    skip -= cut
                    if frames[cut:]:
                        self.deliver(frames[cut:])
                return True
            except grpc.RpcError as error:
                metrics.STAGE_ERRORS.labels("tts").inc()
                if not self.frames and _unknown_profile(error) and config.voice_profile_id:
                    log.warning("no voice profile %r for %s: using a default voice", speaker.profile_id, speaker.label)
                    speaker.profile_id = ""
                    config.ClearField("voice")
                    continue  # not the server's failure: no failover, no retry used up
                if not retryable(error):
                    log.warning("tts refused %s (%s): %s", speaker.label, self.language, error)
                    return False
                stage.failed(error, address, started)
                if time.monotonic() > deadline:
                    metrics.OUTAGE_LOST.labels("tts").inc()
                    log.error("tts down for %.0f s: %s's %s audio lost", self.tts.hold_s, speaker.label, self.language)
                    return False
                span.add_event("retry", {"lingua.tts.server": address, "lingua.frames_delivered": self.frames})
                if not stage.available:
                    await backoff.wait()

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
    """Speaks a speaker's translations: one synthesis stream per utterance and language,
    and held speculative ones until the final confirms or retracts them. While every
    TTS server is down a stream is retried for up to `hold_s`, then counted in
    lingua_outage_lost_total{stage="tts"}."""

    HOLD_S = 30.0

    def __init__(self, speaker: Participant, conference: Conference, stage: Stage, hold_s: float = HOLD_S) -> None:
        self.speaker = speaker
        self.conference = conference
        self.stage = stage
        self.hold_s = hold_s
        self._open: dict[tuple[int, str], _Synthesis] = {}
        self._held: dict[tuple[int, str], _Synthesis] = {}
        self._released: dict[tuple[int, str], _Synthesis] = {}

    def put(self, utterance: Utterance, language: str, text: str, final: bool) -> None:
        key = (utterance.number, language)
        if key not in self._open:
            self._open[key] = _Synthesis(self, utterance, language)
        self._open[key].say(text)

    def speculate(self, utterance: Utterance, language: str, text: str) -> None:
        """Synthesize text now, holding its audio until confirm (a newer speculation replaces it)."""
        key = (utterance.number, language)
        if key in self._held:
            self._retract(key)
        stream = _Synthesis(self, utterance, language, held=True)
        stream.say(text)
        stream.finish()
        self._held[key] = stream

    def confirm(self, utterance: Utterance, languages: set[str]) -> dict[str, str] | None:
        """The final is what was speculated: release the held audio, and return its texts by language.

        None (and nothing released) unless every language has a held stream.
        """
        keys = [(utterance.number, lang) for lang in sorted(languages)]
        if not keys or any(key not in self._held for key in keys):
            return None
        texts = {}
        for key in keys:
            stream = self._held.pop(key)
            stream.release(after=self._open.get(key))
            self._released[key] = stream
            texts[key[1]] = " ".join(stream.texts)
        metrics.SPECULATION.labels("confirmed").inc()
        return texts

    def retract(self, utterance: Utterance) -> None:
        """The final differs from what was speculated: drop the held audio unheard."""
        keys = [key for key in self._held if key[0] == utterance.number]
        for key in keys:
            self._retract(key)
        if keys:
            metrics.SPECULATION.labels("retracted").inc()

    def _retract(self, key: tuple[int, str]) -> None:
        self._held.pop(key).task.cancel()

    def finish(self, utterance: Utterance, languages: set[str]) -> None:
        """The utterance is complete: flush its streams, then mark the end of its audio and span."""
        streams = []
        for lang in languages:
            key = (utterance.number, lang)
            if key in self._open:
                streams.append(self._open.pop(key))
                streams[-1].finish()
            if key in self._released:
                streams.append(self._released.pop(key))

        async def end() -> None:
            for stream in streams:
                await stream.done()
            for lang in languages:
                self.conference.delivered(utterance, lang)
            utterance.span.end()

        asyncio.get_running_loop().create_task(end())

    def depth(self) -> int:
        return len(self._open) + len(self._held)

    def close(self) -> None:
        for stream in (*self._open.values(), *self._held.values(), *self._released.values()):
            stream.task.cancel()
        self._open.clear()
        self._held.clear()
        self._released.clear()
