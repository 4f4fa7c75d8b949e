"""Request errors that map to gRPC status codes, and the decorator that maps them."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class RequestError(Exception):
    """A request the server refuses; the message goes back to the client."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidArgument(RequestError):
    """The request is malformed or names something unsupported."""


class NotFound(RequestError):
    """The request names something that does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(RequestError):
    """The request is valid but cannot be served in the current state or set-up."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(RequestError):
    """The caller may not do this (a wrong PIN, a missing right)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class AlreadyExists(RequestError):
    """The request would create something that exists."""

    code = grpc.StatusCode.ALREADY_EXISTS


class ResourceExhausted(RequestError):
    """The server is at a limit it keeps to serve the requests it has already taken."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(RequestError):
    """A backend the request needs is down; the client may retry."""

    code = grpc.StatusCode.UNAVAILABLE


async def _abort(context: grpc.aio.ServicerContext, method: str, err: RequestError) -> None:
    log.warning("%s from %s: %s: %s", method, context.peer(), err.code.name, err)
    await context.abort(err.code, str(err))


def handle_errors(method: F) -> F:
    """Turn RequestError raised by a servicer method into its gRPC status.

    Works for unary methods and for server-streaming async generators.
    """
    name = method.__name__
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in method(self, request, context):
                    yield item
            except RequestError as err:
                await _abort(context, name, err)

        return stream_wrapper  # type: ignore[return-value]

    @functools.wraps(method)
    async def unary_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except RequestError as err:
            await _abort(context, name, err)

    return unary_wrapper  # type: ignore[return-value]
