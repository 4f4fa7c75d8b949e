"""Rebuilding a gRPC method handler around a wrapped behavior (what server interceptors do)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]
Deserializer = Callable[[bytes], Any]

_KINDS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}

EXEMPT = ("/grpc.health", "/grpc.reflection")
"""Methods the serving interceptors leave alone: probes and tools must always get through."""


def rewrap(
    handler: grpc.RpcMethodHandler,
    wrap: Callable[[Behavior], Behavior],
    deserializer: Deserializer | None = None,
) -> grpc.RpcMethodHandler:
    """handler with its behavior wrapped (and optionally another request deserializer)."""
    for attr, make in _KINDS.items():
        behavior = getattr(handler, attr)
        if behavior is not None:
            return make(
                wrap(behavior),
                request_deserializer=deserializer or handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Base of the serving interceptors: health and reflection pass untouched, the rest go to `intercept`."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        if handler is None or method.startswith(EXEMPT):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())  # type: ignore[attr-defined]
        return self.intercept(handler, method, metadata)

    def intercept(self, handler: grpc.RpcMethodHandler, method: str, metadata: dict[str, Any]) -> grpc.RpcMethodHandler:
        """The handler to run instead of handler for a call of method with this metadata."""
        raise NotImplementedError
