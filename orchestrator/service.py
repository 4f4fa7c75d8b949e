"""ConferenceService: join over gRPC, list participants, watch captions, read metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import numpy as np

from common.audio import pcm16
from common.errors import InvalidArgument, handle_errors
from common.languages import base_language
from common.streams import split_config
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from orchestrator import metrics
from orchestrator.conference import Participant
from orchestrator.languages import ServedLanguages
from orchestrator.rooms import Rooms
from orchestrator.rooms_api import RoomsApi


class StreamTransport:
    """A Join stream's outgoing side: frames and captions queued for the client.

    Holds at most `limit` messages (a slow client loses the newest); None, put by
    `close()` past the limit, ends the stream.
    """

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self.queue: asyncio.Queue[conference_pb2.JoinResponse | None] = asyncio.Queue()
        self.dropped = 0

    def put(self, message: conference_pb2.JoinResponse) -> None:
        if self.queue.qsize() >= self.limit:
            self.dropped += 1
        else:
            self.queue.put_nowait(message)

    def send(self, frame: bytes) -> None:
        self.put(conference_pb2.JoinResponse(audio=frame))

    def close(self) -> None:
        self.queue.put_nowait(None)


class ConferenceServicer(RoomsApi, conference_pb2_grpc.ConferenceServiceServicer):
    """The Conference gRPC API over the rooms."""

    def __init__(self, rooms: Rooms) -> None:
        self.rooms = rooms
        default = rooms.default.conference
        self.languages = ServedLanguages(default.mt, default.tts)
        rooms.on_removed.append(_end_stream)

    @handle_errors
    async def Join(
        self, request_iterator: AsyncIterator[conference_pb2.JoinRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[conference_pb2.JoinResponse]:
        config, rest = await split_config(request_iterator, "request", "config")
        if not config.language_code:
            raise InvalidArgument("config.language_code is required (the language you speak and hear)")
        language = base_language(config.language_code)
        room = self.rooms.get(config.conference)
        room.admit(language, config.pin)
        await self.languages.check(language)
        conference = room.conference
        transport = StreamTransport()
        name = config.display_name or f"grpc {context.peer()}"
        p = conference.join(name, language, config.voice_profile_id, transport, conference_pb2.TRANSPORT_GRPC)
        captions = conference.watch_captions(language)

        async def receive() -> None:
            try:
                async for _, audio in rest:
                    pcm16(audio)
                    p.receive(audio)
            finally:
                transport.close()

        async def forward_captions() -> None:
            while True:
                notice = await captions.get()
                if isinstance(notice, conference_pb2.StageStatus):
                    transport.put(conference_pb2.JoinResponse(stage_status=notice))
                else:
                    transport.put(conference_pb2.JoinResponse(caption=notice))

        reader = asyncio.create_task(receive())
        forwarder = asyncio.create_task(forward_captions())
        try:
            yield conference_pb2.JoinResponse(joined=conference_pb2.Joined(participant_id=p.id))
            while (message := await transport.queue.get()) is not None:
                yield message
            reader.result()
        finally:
            reader.cancel()
            forwarder.cancel()
            conference.unwatch_captions(captions)
            conference.leave(p.id)

    @handle_errors
    async def WatchCaptions(
        self, request: conference_pb2.WatchCaptionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[conference_pb2.WatchCaptionsResponse]:
        language = base_language(request.language_code) if request.language_code else ""
        conference = self.rooms.get(request.conference).conference
        queue = conference.watch_captions(language)
        try:
            while True:
                notice = await queue.get()
                if isinstance(notice, conference_pb2.StageStatus):
                    yield conference_pb2.WatchCaptionsResponse(stage_status=notice)
                else:
                    yield conference_pb2.WatchCaptionsResponse(caption=notice)
        finally:
            conference.unwatch_captions(queue)

    @handle_errors
    async def GetMetrics(
        self, request: conference_pb2.GetMetricsRequest, context: grpc.aio.ServicerContext
    ) -> conference_pb2.GetMetricsResponse:
        conference = self.rooms.get(request.conference).conference
        out = conference_pb2.GetMetricsResponse()
        for name, (count, p50, p95, top) in sorted(conference.recent.summary().items()):
            out.latencies.add(name=name, count=count, p50_ms=p50, p95_ms=p95, max_ms=top)
        for p in conference.participants.values():
            out.dropped_frames[p.id] = p.input.overflow + p.asr.dropped
            out.playback_depth[p.id] = p.playback.depth()
            out.stale_frames[p.id] = p.playback.dropped
        for stage in (conference.stt, conference.mt, conference.tts):
            out.stage_errors[stage.name] = stage.errors
        out.late_ticks = metrics.late_ticks()
        out.stages.extend(conference.stage_statuses())
        if conference.tick_cpu:
            out.tick_cpu_p50_us = float(np.median(conference.tick_cpu)) * 1e6
        return out


def _end_stream(participant: Participant) -> None:
    """A removed Join participant's stream ends."""
    if isinstance(participant.transport, StreamTransport):
        participant.transport.close()
