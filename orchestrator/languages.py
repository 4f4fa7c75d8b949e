"""The languages a participant may speak and hear: those the MT server translates both
ways and the TTS server speaks, asked of the servers and cached for a minute."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from common.errors import InvalidArgument
from common.languages import base_language
from common.telemetry import outgoing_metadata
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from orchestrator.stages import Stage, retryable

log = logging.getLogger(__name__)
T = TypeVar("T")


class ServedLanguages:
    """What the stages serve; a Join in any other language is refused."""

    TTL_S = 60.0
    TIMEOUT_S = 3.0

    def __init__(self, mt: Stage, tts: Stage) -> None:
        self.mt, self.tts = mt, tts
        self._served: frozenset[str] | None = None
        self._at = 0.0

    async def check(self, language: str) -> None:
        """InvalidArgument naming the served languages unless language is one (unknown while the stages are down)."""
        served = await self.get()
        if served is not None and language not in served:
            raise InvalidArgument(f"language {language!r} is not served here; use one of: {', '.join(sorted(served))}")

    async def get(self) -> frozenset[str] | None:
        """The served languages, or the last known (None if never known: the stages were down)."""
        if self._served is not None and time.monotonic() - self._at < self.TTL_S:
            return self._served
        try:
            pairs = await _ask(
                self.mt,
                lambda ch, o: mt_pb2_grpc.TranslatorServiceStub(ch).ListLanguagePairs(
                    mt_pb2.ListLanguagePairsRequest(), **o
                ),
            )
            voices = await _ask(
                self.tts,
                lambda ch, o: tts_pb2_grpc.TextToSpeechServiceStub(ch).ListVoices(tts_pb2.ListVoicesRequest(), **o),
            )
        except grpc.RpcError as err:
            log.warning("cannot ask the stages which languages they serve: %s", err)
            return self._served
        sources = {base_language(p.source_language_code) for p in pairs.pairs}
        targets = {base_language(p.target_language_code) for p in pairs.pairs}
        spoken = {base_language(code) for v in voices.voices for code in v.language_codes}
        self._served = frozenset(sources & targets & spoken)
        self._at = time.monotonic()
        return self._served


async def _ask(stage: Stage, call: Callable[[grpc.aio.Channel, dict[str, Any]], Awaitable[T]]) -> T:
    """One unary call to the stage, failing over through its servers once each."""
    options = {"timeout": ServedLanguages.TIMEOUT_S, "metadata": outgoing_metadata()}
    for _ in range(len(stage.addresses) - 1):
        address, started = stage.address, time.monotonic()
        try:
            return await call(stage.channel(), options)
        except grpc.RpcError as err:
            if not retryable(err):
                raise
            stage.failed(err, address, started)
    return await call(stage.channel(), options)
