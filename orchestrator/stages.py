"""Connections to the ML stage servers, with failover across a list of addresses."""

from __future__ import annotations

import asyncio
import logging
import random

import grpc

from common.security import open_aio_channel

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 16 * 1024 * 1024


class Backoff:
    """Exponential backoff with jitter: 0.1 s doubling to a cap."""

    def __init__(self, initial: float = 0.1, cap: float = 5.0) -> None:
        self.initial, self.cap = initial, cap
        self._next = initial

    async def wait(self) -> None:
        """Sleep for the current delay, then double it."""
        await asyncio.sleep(self._next * random.uniform(0.8, 1.2))
        self._next = min(self._next * 2, self.cap)

    def reset(self) -> None:
        """Back to the initial delay after a success."""
        self._next = self.initial


class Stage:
    """One ML stage served by one or more equivalent servers, used in order.

    `channel()` is the current server's channel; `failed()` moves to the next
    address (wrapping), so a broken server is skipped until the others fail too.
    """

    def __init__(self, name: str, addresses: list[str]) -> None:
        if not addresses:
            raise ValueError(f"stage {name} needs at least one address")
        self.name = name
        self.addresses = addresses
        self.errors = 0
        self._index = 0
        self._channels: dict[str, grpc.aio.Channel] = {}

    @property
    def address(self) -> str:
        return self.addresses[self._index]

    def channel(self) -> grpc.aio.Channel:
        """The channel to the current server (created on first use)."""
        address = self.address
        if address not in self._channels:
            self._channels[address] = open_aio_channel(
                address,
                options=[
                    ("grpc.max_receive_message_length", MESSAGE_LIMIT),
                    ("grpc.max_send_message_length", MESSAGE_LIMIT),
                    ("grpc.keepalive_time_ms", 10000),
                    # A restarted server is found within a second, not after grpc's default backoff (up to 120 s).
                    ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.min_reconnect_backoff_ms", 100),
                    ("grpc.max_reconnect_backoff_ms", 1000),
                ],
            )
        return self._channels[address]

    def failed(self, error: BaseException) -> None:
        """Record a failure of the current server and fail over to the next."""
        self.errors += 1
        previous = self.address
        self._index = (self._index + 1) % len(self.addresses)
        log.warning("%s server %s failed (%s); next: %s", self.name, previous, error, self.address)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


def retryable(error: grpc.RpcError) -> bool:
    """Whether a stage error is the server's (fail over) rather than our request's."""
    code = error.code() if isinstance(error, grpc.aio.AioRpcError) else None
    return code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
