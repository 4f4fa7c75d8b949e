"""The serving guard every server's RPCs pass through (health and reflection excepted):

- admission control: at most `max_streams` RPCs at once; one more is refused at once
  with RESOURCE_EXHAUSTED (grpc's own limit would queue it, and health checks with it);
- idle streams: a client stream that sends nothing for `idle_seconds` is ended with
  DEADLINE_EXCEEDED, so abandoned streams give their slot back;
- undecodable requests (bytes that are not the method's message, invalid UTF-8 in a
  string field) are refused with INVALID_ARGUMENT instead of grpc's UNKNOWN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from common.handlers import Behavior, Deserializer, ServiceInterceptor, rewrap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request message that failed to parse."""

    reason: str


def _tolerant(deserializer: Deserializer | None, method: str) -> Deserializer:
    def load(data: bytes) -> Any:
        if deserializer is None:
            return data
        try:
            return deserializer(data)
        except Exception as err:  # protobuf raises DecodeError, and others for bad UTF-8
            kind = method.rsplit("/", 1)[-1]
            return Undecodable(f"{kind}: the request is not a valid protobuf message for this method ({err})")

    return load


class GuardInterceptor(ServiceInterceptor):
    """Admission control, idle-stream timeouts and undecodable requests (see the module)."""

    def __init__(self, max_streams: int, idle_seconds: float) -> None:
        self.max_streams = max_streams
        self.idle_seconds = idle_seconds
        self.active = 0

    def intercept(self, handler: grpc.RpcMethodHandler, method: str, metadata: dict[str, Any]) -> grpc.RpcMethodHandler:
        streaming_in = bool(handler.request_streaming)
        streaming_out = bool(handler.response_streaming)

        def wrap(behavior: Behavior) -> Behavior:
            if streaming_out:

                async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                    await self._admit(context)
                    try:
                        async for item in behavior(await self._checked(request, context, streaming_in), context):
                            yield item
                    finally:
                        self.active -= 1

                return stream

            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await self._admit(context)
                try:
                    return await behavior(await self._checked(request, context, streaming_in), context)
                finally:
                    self.active -= 1

            return call

        return rewrap(handler, wrap, _tolerant(handler.request_deserializer, method))

    async def _admit(self, context: grpc.aio.ServicerContext) -> None:
        if self.active >= self.max_streams:
            log.warning("refused a call from %s: %d streams open", context.peer(), self.active)
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"server busy: all {self.max_streams} streams are in use (its --max-streams); "
                "retry with backoff, or use another replica",
            )
        self.active += 1

    async def _checked(self, request: Any, context: grpc.aio.ServicerContext, streaming: bool) -> Any:
        """The request, or for client streams an iterator that enforces the idle limit and decodability."""
        if not streaming:
            if isinstance(request, Undecodable):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.reason)
            return request
        return self._guarded(request, context)

    async def _guarded(self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        iterator = aiter(requests)
        while True:
            try:
                item = await asyncio.wait_for(anext(iterator), self.idle_seconds)
            except StopAsyncIteration:
                return
            except TimeoutError:
                await context.abort(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"no request for {self.idle_seconds:g} s: the stream was closed as idle; "
                    "keep sending (silence is fine) or close the stream when done",
                )
            if isinstance(item, Undecodable):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, item.reason)
            yield item
