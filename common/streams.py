"""Helpers for request streams whose first message is a config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from common.errors import InvalidArgument


async def split_config(requests: AsyncIterator[Any], oneof: str, config_field: str) -> tuple[Any, AsyncIterator[Any]]:
    """Return the first message's config and an iterator over the rest.

    The rest yields each message's oneof field name and value; a second config,
    a message with nothing set, or a first message that is not the config
    raises InvalidArgument.
    """
    try:
        first = await anext(requests)
    except StopAsyncIteration:
        raise InvalidArgument(f"stream closed before the {config_field} message") from None
    kind = first.WhichOneof(oneof)
    if kind != config_field:
        raise InvalidArgument(f"the first message must be {config_field}, got {kind or 'an empty message'}")

    async def rest() -> AsyncIterator[Any]:
        async for message in requests:
            field = message.WhichOneof(oneof)
            if field == config_field:
                raise InvalidArgument(f"{config_field} may only be sent as the first message")
            if field is None:
                raise InvalidArgument(f"empty message: set one of the '{oneof}' fields")
            yield field, getattr(message, field)

    return getattr(first, config_field), rest()
