"""SpeechToTextService: config validation and the bidirectional stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from google.protobuf.duration_pb2 import Duration

from common.audio import check_format, pcm16, to_float
from common.errors import InvalidArgument, handle_errors
from common.languages import require_supported
from common.streams import split_config
from lingua.stt.v1 import stt_pb2, stt_pb2_grpc
from stt_server.decoder import DecodePool
from stt_server.engines import SAMPLE_RATE, Engine
from stt_server.resample import StreamResampler
from stt_server.stream import Event, Result, Session, Settings, SpeechStart, Tuning
from stt_server.turn import TurnDetector

DEFAULT_ENDPOINT_MS = 300
ENDPOINT_RANGE_MS = (100, 5000)
AUTO = ("", "auto")


def _duration(samples: int) -> Duration:
    seconds, rest = divmod(samples, SAMPLE_RATE)
    return Duration(seconds=seconds, nanos=rest * 1_000_000_000 // SAMPLE_RATE)


def _response(event: Event, language_tag: str) -> stt_pb2.StreamingRecognizeResponse:
    """The protobuf form of an event; language_tag overrides the detected language."""
    if isinstance(event, Result):
        text_len = len(event.transcript)
        return stt_pb2.StreamingRecognizeResponse(
            result=stt_pb2.RecognitionResult(
                utterance_id=event.utterance,
                transcript=event.transcript,
                is_final=event.is_final,
                stability=len(event.stable) / text_len if text_len else (1.0 if event.is_final else 0.0),
                stable_transcript=event.stable,
                start_offset=_duration(event.start),
                end_offset=_duration(event.end),
                language_code=language_tag or event.language,
                speculative=event.speculative,
            )
        )
    kind = (
        stt_pb2.SPEECH_EVENT_TYPE_SPEECH_START
        if isinstance(event, SpeechStart)
        else stt_pb2.SPEECH_EVENT_TYPE_SPEECH_END
    )
    return stt_pb2.StreamingRecognizeResponse(
        speech_event=stt_pb2.SpeechEvent(type=kind, offset=_duration(event.offset), utterance_id=event.utterance)
    )


class SpeechToTextServicer(stt_pb2_grpc.SpeechToTextServiceServicer):
    """Streams audio through a Session per call; one engine and decode pool for all."""

    def __init__(
        self,
        engine: Engine,
        pool: DecodePool,
        tuning: Tuning,
        detect: frozenset[str] = frozenset(),
        turn: TurnDetector | None = None,
    ) -> None:
        """detect: the languages auto-detection answers with when a stream names none (empty: any)."""
        self._engine = engine
        self._pool = pool
        self._turn = turn
        self._tuning = tuning
        self._detect = detect

    def _settings(self, config: stt_pb2.RecognitionConfig) -> tuple[Settings, int, str]:
        """Validate the config: (settings, input sample rate, language tag to report or "")."""
        tag = config.language_code.strip()
        language = None
        if tag.lower() in AUTO:
            tag = ""
        else:
            language = require_supported(tag, self._engine.recognizer.languages, "recognition")
        rate = check_format(config.format, default_rate=SAMPLE_RATE)
        endpoint = config.endpoint_silence_ms or DEFAULT_ENDPOINT_MS
        low, high = ENDPOINT_RANGE_MS
        if not low <= endpoint <= high:
            raise InvalidArgument(
                f"endpoint_silence_ms {config.endpoint_silence_ms} is out of range; "
                f"use 0 (server default {DEFAULT_ENDPOINT_MS} ms) or {low}..{high}"
            )
        supported = self._engine.recognizer.languages
        alternatives = [require_supported(t, supported, "alternative") for t in config.alternative_language_codes]
        detect = frozenset(alternatives) or self._detect
        return Settings(language, config.interim_results, endpoint, detect), rate, tag

    @handle_errors
    async def StreamingRecognize(
        self,
        request_iterator: AsyncIterator[stt_pb2.StreamingRecognizeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[stt_pb2.StreamingRecognizeResponse]:
        """Config first, then audio; answers with events, partials and finals."""
        config, rest = await split_config(request_iterator, "request", "config")
        settings, rate, tag = self._settings(config)
        resampler = StreamResampler(rate, SAMPLE_RATE) if rate != SAMPLE_RATE else None
        events: asyncio.Queue[Event | None] = asyncio.Queue()
        session = Session(self._engine, self._pool, settings, self._tuning, events.put_nowait, self._turn)

        async def ingest() -> None:
            async for _, data in rest:
                samples = to_float(pcm16(data))
                await session.feed(resampler.push(samples) if resampler else samples)
            if resampler:
                await session.feed(resampler.flush())
            await session.close()

        task = asyncio.create_task(ingest())
        task.add_done_callback(lambda _: events.put_nowait(None))
        try:
            while (event := await events.get()) is not None:
                yield _response(event, tag)
            task.result()
        finally:
            task.cancel()
            session.cancel()
