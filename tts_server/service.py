"""The TextToSpeechService servicer: validation, text buffering and audio streaming."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
from google.protobuf.duration_pb2 import Duration
from opentelemetry import trace

from common.audio import Framer, check_format, resample, to_pcm16
from common.errors import FailedPrecondition, InvalidArgument, handle_errors
from common.languages import base_language
from common.streams import split_config
from common.tempo import Stretcher
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tts_server.engines import Engine, Voice, VoiceChoice
from tts_server.matching import VoiceMatcher
from tts_server.shift import shift
from tts_server.text import Chunker, Limits

log = logging.getLogger(__name__)

DEFAULT_RATE = 16000
SPEAKING_RATES = (0.5, 2.0)
PITCH_SEMITONES = 12.0
MAX_MESSAGE_SECONDS = 1.0
"""Longest audio in one AudioChunk message; a longer piece goes out in several."""
MAX_TEXT_CHARS = 20_000
"""Default for the most characters of text in one TextInput message."""
MAX_STREAM_CHARS = 200_000
"""Default for the most characters of text on one stream, all its messages together."""
INLINE_CHARS = 2_000
"""Text longer than this is chunked in a thread (tens of ms for the longest), so the event loop keeps answering."""


@dataclass(frozen=True)
class Setup:
    """A stream's validated config."""

    language: str
    """Primary language subtag."""
    region: str
    """The whole tag as the client sent it, lower case ("pt-br")."""
    choice: VoiceChoice
    rate: int
    """Output sample rate."""
    tempo: float = 1.0
    """The requested speaking rate, met exactly by time-scaling the engine's audio."""


@dataclass(frozen=True)
class _Speak:
    segment_id: str
    text: str


@dataclass(frozen=True)
class _End:
    segment_id: str


_Job = _Speak | _End | BaseException | None


@dataclass
class _Segment:
    """Output state of the segment being spoken."""

    segment_id: str
    framer: Framer
    audio_bytes: int = 0
    started: bool = False
    pieces: list[str] = field(default_factory=list)


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServiceServicer):
    """Speaks streamed text with the engine's voices."""

    def __init__(
        self,
        engine: Engine,
        executor: Executor,
        matcher: VoiceMatcher | None,
        limits: Limits | None = None,
        *,
        max_text_chars: int = MAX_TEXT_CHARS,
        max_stream_chars: int = MAX_STREAM_CHARS,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.matcher = matcher
        self.limits = limits or Limits()
        self.max_text_chars = max_text_chars
        self.max_stream_chars = max_stream_chars
        self.voices = {voice.name: voice for voice in engine.voices()}
        self.languages = frozenset(language for voice in self.voices.values() for language in voice.languages)

    @handle_errors
    async def ListVoices(
        self, request: tts_pb2.ListVoicesRequest, context: grpc.aio.ServicerContext
    ) -> tts_pb2.ListVoicesResponse:
        """Every voice, or those that speak request.language_code."""
        language = base_language(request.language_code) if request.language_code.strip() else None
        return tts_pb2.ListVoicesResponse(
            voices=[
                tts_pb2.Voice(
                    name=voice.name,
                    language_codes=sorted(voice.languages),
                    engine=voice.engine,
                    native_sample_rate_hertz=voice.sample_rate,
                    gender=voice.gender,
                )
                for voice in self.voices.values()
                if language is None or language in voice.languages
            ]
        )

    @handle_errors
    async def StreamingSynthesize(
        self, request_iterator: AsyncIterator[tts_pb2.StreamingSynthesizeRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[tts_pb2.StreamingSynthesizeResponse]:
        """Config first, then text and flushes; answers with markers and whole 20 ms frames."""
        config, rest = await split_config(request_iterator, "request", "config")
        setup = await self.setup(config)
        choice = setup.choice
        trace.get_current_span().set_attributes(
            {
                "lingua.language": setup.region,
                "lingua.engine": choice.voice.engine,
                "lingua.voice": choice.label,
                "lingua.speaking_rate": round(setup.tempo, 3),
                "lingua.shifted": choice.shifted,
            }
        )
        log.info(
            "stream from %s: %s with voice %s at %d Hz", context.peer(), setup.region, setup.choice.label, setup.rate
        )
        jobs: asyncio.Queue[_Job] = asyncio.Queue()
        reader = asyncio.create_task(self._read(rest, jobs))
        try:
            async for response in self._speak(setup, jobs):
                yield response
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def setup(self, config: tts_pb2.SynthesisConfig) -> Setup:
        """Validate the config: language, voice and output format."""
        supported = ", ".join(sorted(self.languages))
        if not config.language_code.strip():
            raise InvalidArgument(f"config.language_code is required; supported: {supported}")
        language = base_language(config.language_code)
        if language not in self.languages:
            raise InvalidArgument(f"unsupported synthesis language {config.language_code!r}; supported: {supported}")
        region = config.language_code.strip().replace("_", "-").lower()
        rate = check_format(config.format, DEFAULT_RATE)
        kind = config.WhichOneof("voice")
        if kind == "voice_name":
            choice = VoiceChoice(self._named_voice(config.voice_name, language))
        elif kind == "voice_profile_id":
            if not config.voice_profile_id.strip():
                raise InvalidArgument("voice_profile_id is empty; give a profile id, or set no voice for the default")
            if self.matcher is None:
                raise FailedPrecondition(
                    "voice_profile_id needs a profile server, and this server has none; "
                    "start it with --profile-server ADDRESS, or name a voice instead"
                )
            choice = await self.matcher.choose(config.voice_profile_id, language)
        else:
            default = self.engine.default_voice(language)
            if default is None:
                raise InvalidArgument(f"no voice speaks {language!r}")
            choice = VoiceChoice(default)
        choice = _styled(choice, config, self.engine.base_rate(choice.voice, language))
        return Setup(language, region, choice, rate, tempo=config.speaking_rate or 1.0)

    def _named_voice(self, name: str, language: str) -> Voice:
        """The voice called name, which must speak language."""
        speakers = ", ".join(v.name for v in self.voices.values() if language in v.languages)
        voice = self.voices.get(name)
        if voice is None:
            raise InvalidArgument(f"unknown voice {name!r}; voices for {language!r}: {speakers} (see ListVoices)")
        if language not in voice.languages:
            raise InvalidArgument(f"voice {name!r} does not speak {language!r}; voices for {language!r}: {speakers}")
        return voice

    async def _read(self, requests: AsyncIterator[tuple[str, Any]], jobs: asyncio.Queue[_Job]) -> None:
        """Turn text and flushes into speak and end jobs, in order; a failure becomes a job too.

        Segments run one after another: text for a new segment id ends the open one. Text over the
        per-message or per-stream limit fails the stream, after the audio of the text before it.
        """
        chunker = Chunker(self.limits)
        received = 0
        open_id: str | None = None
        ended: set[str] = set()

        def end(segment_id: str) -> None:
            for piece in chunker.flush():
                jobs.put_nowait(_Speak(segment_id, piece))
            jobs.put_nowait(_End(segment_id))
            ended.add(segment_id)

        try:
            async for kind, value in requests:
                if kind == "text":
                    received = self._count(value.text, received)
                    if open_id is not None and value.segment_id != open_id:
                        end(open_id)
                    open_id = value.segment_id
                    ended.discard(open_id)
                    if len(value.text) > INLINE_CHARS:
                        pieces = await asyncio.to_thread(chunker.push, value.text)
                    else:
                        pieces = chunker.push(value.text)
                    for piece in pieces:
                        jobs.put_nowait(_Speak(open_id, piece))
                elif kind == "flush":
                    target = value.segment_id or open_id
                    if target is None or (target != open_id and target in ended):
                        continue  # nothing to flush, or a late flush of a segment new text already ended
                    if open_id is not None:
                        end(open_id)
                        open_id = None
                    if target not in ended:
                        end(target)  # a flushed segment that had no text: markers only
            if open_id is not None:
                end(open_id)
            jobs.put_nowait(None)
        except Exception as err:  # handed to the writer, which raises it in order
            jobs.put_nowait(err)

    def _count(self, text: str, received: int) -> int:
        """The stream's characters with text added; InvalidArgument if text or the total is over its limit."""
        if len(text) > self.max_text_chars:
            raise InvalidArgument(
                f"text of {len(text)} characters is over the {self.max_text_chars}-character limit per request; "
                "send it in smaller pieces"
            )
        total = received + len(text)
        if total > self.max_stream_chars:
            raise InvalidArgument(
                f"the stream's text reached {total} characters, over the {self.max_stream_chars}-character limit "
                "per stream; open a new stream for more text"
            )
        return total

    async def _speak(
        self, setup: Setup, jobs: asyncio.Queue[_Job]
    ) -> AsyncIterator[tts_pb2.StreamingSynthesizeResponse]:
        """Synthesize jobs one after another and stream the markers and audio."""
        segment: _Segment | None = None
        frame_bytes = Framer(setup.rate).frame
        per_message = int(MAX_MESSAGE_SECONDS * 1000 / 20) * frame_bytes
        while (job := await jobs.get()) is not None:
            if isinstance(job, BaseException):
                raise job
            if segment is None or segment.segment_id != job.segment_id:
                segment = _Segment(job.segment_id, Framer(setup.rate))
            if not segment.started:
                segment.started = True
                yield _marker(tts_pb2.SEGMENT_MARKER_TYPE_START, segment.segment_id, setup.choice.label)
            if isinstance(job, _Speak):
                segment.pieces.append(job.text)
                async for pcm in self._audio(job.text, setup):
                    frames = segment.framer.push(pcm)
                    for start in range(0, len(frames), per_message):
                        segment.audio_bytes += len(frames[start : start + per_message])
                        yield _audio(frames[start : start + per_message], segment.segment_id)
            else:
                frames = segment.framer.flush()
                if frames:
                    segment.audio_bytes += len(frames)
                    yield _audio(frames, segment.segment_id)
                seconds = segment.audio_bytes / 2 / setup.rate
                log.debug(
                    "segment %r: %.2f s of audio from %d pieces", segment.segment_id, seconds, len(segment.pieces)
                )
                end = _marker(tts_pb2.SEGMENT_MARKER_TYPE_END, segment.segment_id, setup.choice.label)
                end.marker.audio_duration.CopyFrom(_duration(seconds))
                yield end
                segment = None

    async def _audio(self, text: str, setup: Setup) -> AsyncIterator[bytes]:
        """LINEAR16 at the stream's rate for one piece, chunk by chunk as the engine makes it (in a thread)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        native = setup.choice.voice.sample_rate
        choice = setup.choice

        def voiced() -> Iterator[np.ndarray]:
            """The engine's chunks, or with a voice shift the whole piece shifted (it needs the whole pitch contour)."""
            made = self.engine.synthesize(text, choice, setup.language, setup.region)
            if not choice.shifted:
                yield from made
                return
            audio = [chunk for chunk in made if not stop.is_set()]
            if audio:
                pitch = 1.0 if choice.voice.native_pitch else choice.pitch
                yield shift(np.concatenate(audio), native, pitch, choice.formant)

        def chunks() -> Iterator[np.ndarray]:
            """The voiced chunks at the requested tempo (engines' own rate controls are not proportional)."""
            stretcher = Stretcher(native, setup.tempo)
            for chunk in voiced():
                if len(out := stretcher.push(chunk)):
                    yield out
            if len(out := stretcher.flush()):
                yield out

        def work() -> None:
            try:
                for chunk in chunks():
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, to_pcm16(resample(chunk, native, setup.rate)))
            except Exception as err:
                loop.call_soon_threadsafe(queue.put_nowait, err)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        loop.run_in_executor(self.executor, work)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    log.error("%s failed on %r: %s", setup.choice.label, text, item, exc_info=item)
                    continue
                yield item
        finally:
            stop.set()


def _styled(choice: VoiceChoice, config: tts_pb2.SynthesisConfig, base_rate: float) -> VoiceChoice:
    """The choice at the voice's base rate, with its pitch; InvalidArgument when rate or pitch is out of range."""
    rate = config.speaking_rate or 1.0
    low, high = SPEAKING_RATES
    if not low <= rate <= high:
        raise InvalidArgument(f"speaking_rate {config.speaking_rate:g} is out of range; use {low:g} to {high:g}, or 0")
    if abs(config.pitch_semitones) > PITCH_SEMITONES:
        limit = f"{PITCH_SEMITONES:g}"
        raise InvalidArgument(f"pitch_semitones {config.pitch_semitones:g} is out of range; use -{limit} to {limit}")
    pitch = choice.pitch * 2 ** (config.pitch_semitones / 12)
    return dataclasses.replace(choice, rate=choice.rate * base_rate, pitch=pitch)


def _marker(kind: int, segment_id: str, voice: str) -> tts_pb2.StreamingSynthesizeResponse:
    return tts_pb2.StreamingSynthesizeResponse(
        marker=tts_pb2.SegmentMarker(type=kind, segment_id=segment_id, voice_name=voice)  # type: ignore[arg-type]
    )


def _audio(data: bytes, segment_id: str) -> tts_pb2.StreamingSynthesizeResponse:
    return tts_pb2.StreamingSynthesizeResponse(audio=tts_pb2.AudioChunk(audio_content=data, segment_id=segment_id))


def _duration(seconds: float) -> Duration:
    duration = Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return duration
