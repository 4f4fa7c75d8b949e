"""TranslatorService: validation, caching and the streaming logic over a Router."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import grpc
from opentelemetry import trace

from common.errors import InvalidArgument, Unavailable, handle_errors
from common.languages import base_language, require_supported
from common.streams import split_config
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from mt_server.engines.base import Formality, Hints
from mt_server.engines.registry import Route, Router
from mt_server.glossary import Protection, build_terms

log = logging.getLogger(__name__)

_SPACES = re.compile(r"[ \t]{2,}")
"""Runs of spaces some Apertium pairs leave behind."""

MAX_TERMS = 1000
"""Most glossary entries, and most do-not-translate phrases, per request."""
MAX_TEXT_CHARS = 5000
"""Default for the most characters in one text or segment to translate."""
MAX_STREAM_CHARS = 1_000_000
"""Default for the most characters of segments on one stream; every version of a growing segment counts."""

FORMALITY: dict[int, Formality] = {
    mt_pb2.FORMALITY_UNSPECIFIED: "",
    mt_pb2.FORMALITY_MORE: "more",
    mt_pb2.FORMALITY_LESS: "less",
}


@dataclass(frozen=True)
class Target:
    """One target language of a request: its tag as sent, route and protected phrases."""

    tag: str
    source: str
    target: str
    route: Route
    protection: Protection
    hints: Hints


def tidy(text: str) -> str:
    """Engine output as the service returns it: runs of spaces collapsed, ends stripped."""
    return _SPACES.sub(" ", text).strip()


CacheKey = tuple[str, str, str, Hints]
"""(source, target, protected text, hints)."""


def _target(
    tag: str, source: str, target: str, route: Route, terms: dict[str, str | None], formality: Formality
) -> Target:
    """A Target whose glossary goes to the engine when its one step applies glossaries itself, else to placeholders."""
    if len(route) == 1 and route[0].engine.native_glossary:
        glossary = tuple(sorted((src, tgt) for src, tgt in terms.items() if tgt is not None))
        kept: dict[str, str | None] = {src: None for src, tgt in terms.items() if tgt is None}
        return Target(tag, source, target, route, Protection(kept), Hints(formality, glossary))
    return Target(tag, source, target, route, Protection(terms), Hints(formality))


class _LRU:
    """Recent translations: CacheKey -> engine output. Event-loop thread only."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[CacheKey, str] = OrderedDict()

    def get(self, key: CacheKey) -> str | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: CacheKey, value: str) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)


class TranslatorService(mt_pb2_grpc.TranslatorServiceServicer):
    """Translates with the router's engines; blocking engine calls run on executor."""

    def __init__(
        self,
        router: Router,
        executor: Executor,
        *,
        cache_size: int = 2048,
        max_text_chars: int = MAX_TEXT_CHARS,
        max_stream_chars: int = MAX_STREAM_CHARS,
    ):
        self._router = router
        self._executor = executor
        self._cache = _LRU(cache_size)
        self._max_text_chars = max_text_chars
        self._max_stream_chars = max_stream_chars

    def targets(
        self,
        source_tag: str,
        target_tags: Sequence[str],
        glossary: Sequence[mt_pb2.GlossaryEntry],
        do_not_translate: Sequence[str],
        formality: int = mt_pb2.FORMALITY_UNSPECIFIED,
    ) -> list[Target]:
        """Validate a request's languages and terms; one Target per distinct target tag."""
        if not source_tag:
            raise InvalidArgument(
                f"source_language_code is empty; use one of {', '.join(sorted(self._router.languages))}"
            )
        if not target_tags:
            raise InvalidArgument("no target language; set at least one target_language_code")
        if len(glossary) > MAX_TERMS or len(do_not_translate) > MAX_TERMS:
            raise InvalidArgument(f"at most {MAX_TERMS} glossary entries and {MAX_TERMS} do_not_translate phrases")
        entries = []
        for i, entry in enumerate(glossary):
            if not entry.source_text.strip() or not entry.target_text.strip():
                raise InvalidArgument(
                    f"glossary entry {i} needs both source_text and target_text "
                    "(use do_not_translate to keep a phrase unchanged)"
                )
            language = base_language(entry.target_language_code) if entry.target_language_code else ""
            entries.append((entry.source_text.strip(), entry.target_text.strip(), language))
        for i, phrase in enumerate(do_not_translate):
            if not phrase.strip():
                raise InvalidArgument(f"do_not_translate phrase {i} is empty")
        kept = [phrase.strip() for phrase in do_not_translate]
        if formality not in FORMALITY:
            raise InvalidArgument(
                f"unknown formality {formality}; use FORMALITY_MORE, FORMALITY_LESS or leave it unset"
            )
        targets = []
        for tag in dict.fromkeys(target_tags):
            if not tag:
                raise InvalidArgument("a target_language_code is empty")
            source, target, route = self._router.route(source_tag, tag)
            terms = build_terms(entries, kept, target)
            targets.append(_target(tag, source, target, route, terms, FORMALITY[formality]))
        return targets

    def check_text(self, text: str, what: str) -> str:
        """The text stripped; InvalidArgument if it is empty or too long."""
        stripped = text.strip()
        if not stripped:
            raise InvalidArgument(f"{what} is empty; send the text to translate")
        if len(stripped) > self._max_text_chars:
            raise InvalidArgument(
                f"{what} of {len(stripped)} characters is over the {self._max_text_chars}-character limit; "
                "send it in smaller pieces"
            )
        return stripped

    def check_stream(self, received: int) -> None:
        """InvalidArgument if a stream's segments, received characters so far, are over the per-stream limit."""
        if received > self._max_stream_chars:
            raise InvalidArgument(
                f"the stream's segments reached {received} characters, over the {self._max_stream_chars}-character "
                "limit per stream (each version of a segment counts); open a new stream for more text"
            )

    async def translate(self, text: str, target: Target) -> str:
        """Translate validated text for one target, through the cache; the phrases are protected in a thread."""
        protected = await asyncio.to_thread(target.protection.protect, text)
        key = (target.source, target.target, protected.text, target.hints)
        raw = protected.text if not target.route else self._cache.get(key)
        if raw is None:
            loop = asyncio.get_running_loop()
            run = self._router.run
            raw = await loop.run_in_executor(self._executor, run, target.route, protected.text, target.hints)
            self._cache.put(key, raw)
        return tidy(protected.restore(raw))

    @handle_errors
    async def Translate(
        self, request: mt_pb2.TranslateRequest, context: grpc.aio.ServicerContext
    ) -> mt_pb2.TranslateResponse:
        if not request.target_language_code:
            raise InvalidArgument("target_language_code is empty; set the language to translate into")
        (target,) = self.targets(
            request.source_language_code,
            [request.target_language_code],
            request.glossary,
            request.do_not_translate,
            request.formality,
        )
        route = [step.label for step in target.route]
        trace.get_current_span().set_attributes(
            {
                "lingua.source_language": target.source,
                "lingua.target_language": target.target,
                "lingua.route": route,
                "lingua.engine": sorted({label.split(":")[0] for label in route}),
                "lingua.text_length": len(request.text),
            }
        )
        text = await self.translate(self.check_text(request.text, "text"), target)
        return mt_pb2.TranslateResponse(text=text, route=route)

    @handle_errors
    async def ListLanguagePairs(
        self, request: mt_pb2.ListLanguagePairsRequest, context: grpc.aio.ServicerContext
    ) -> mt_pb2.ListLanguagePairsResponse:
        only = request.source_language_code
        source = require_supported(only, self._router.languages, "source") if only else None
        return mt_pb2.ListLanguagePairsResponse(
            pairs=[
                mt_pb2.LanguagePair(
                    source_language_code=src,
                    target_language_code=tgt,
                    route=[step.label for step in route],
                    chrf=self._router.scores.get((src, tgt), 0.0),
                )
                for (src, tgt), route in self._router.routes().items()
                if source in (None, src)
            ]
        )

    @handle_errors
    async def StreamingTranslate(
        self, request_iterator: AsyncIterator[mt_pb2.StreamingTranslateRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[mt_pb2.StreamingTranslateResponse]:
        config, messages = await split_config(request_iterator, "request", "config")
        targets = self.targets(
            config.source_language_code,
            config.target_language_codes,
            config.glossary,
            config.do_not_translate,
            config.formality,
        )
        async for response in _Stream(self, targets).run(messages):
            yield response


class _Lane:
    """Versions of one segment waiting for one target, oldest first."""

    def __init__(self) -> None:
        self.pending: deque[mt_pb2.Segment] = deque()


class _Stream:
    """One StreamingTranslate call.

    Each (segment, target) lane translates one version at a time, so its
    responses keep the order of the versions. A newer version of a segment drops
    the partial still waiting in the lane (it is stale); finals are never dropped.
    Lanes run concurrently; responses go out as they are ready.
    """

    def __init__(self, service: TranslatorService, targets: list[Target]) -> None:
        self._service = service
        self._targets = targets
        self._received = 0
        """Characters of the segments read so far."""
        self._lanes: dict[tuple[str, int], _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._out: asyncio.Queue[mt_pb2.StreamingTranslateResponse | Exception | None] = asyncio.Queue()

    async def run(
        self, messages: AsyncIterator[tuple[str, mt_pb2.Segment]]
    ) -> AsyncIterator[mt_pb2.StreamingTranslateResponse]:
        """Yield responses until the input ends and every lane is done; raise the first error."""
        reader = asyncio.create_task(self._read(messages))
        try:
            while (item := await self._out.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            reader.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def _read(self, messages: AsyncIterator[tuple[str, mt_pb2.Segment]]) -> None:
        try:
            async for _, segment in messages:
                self._submit(segment)
            while self._tasks:
                await asyncio.wait(set(self._tasks))
            await self._out.put(None)
        except Exception as err:
            await self._out.put(err)

    def _submit(self, segment: mt_pb2.Segment) -> None:
        if not segment.segment_id:
            raise InvalidArgument("segment_id is empty; give every segment a non-empty id")
        text = self._service.check_text(segment.text, f"segment {segment.segment_id!r} text")
        self._received += len(text)
        self._service.check_stream(self._received)
        version = mt_pb2.Segment(segment_id=segment.segment_id, text=text, is_final=segment.is_final)
        for index in range(len(self._targets)):
            key = (segment.segment_id, index)
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane()
                task = asyncio.create_task(self._drain(key, lane))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif lane.pending and not lane.pending[-1].is_final:
                lane.pending.pop()
            lane.pending.append(version)

    async def _drain(self, key: tuple[str, int], lane: _Lane) -> None:
        target = self._targets[key[1]]
        try:
            while lane.pending:
                version = lane.pending.popleft()
                try:
                    text = await self._service.translate(version.text, target)
                except Unavailable as err:
                    if version.is_final:
                        raise
                    log.warning("partial of segment %r to %s skipped: %s", version.segment_id, target.tag, err)
                    continue
                await self._out.put(
                    mt_pb2.StreamingTranslateResponse(
                        segment_id=version.segment_id,
                        target_language_code=target.tag,
                        text=text,
                        is_final=version.is_final,
                    )
                )
        except Exception as err:
            await self._out.put(err)
        finally:
            del self._lanes[key]
