"""Connections to the ML stage servers, with failover across a list of addresses."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

import grpc

from common.security import BALANCED, open_aio_channel
from orchestrator import metrics

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    *BALANCED,  # a stage named by DNS (a Kubernetes headless Service) spreads its streams over the replicas
    ("grpc.max_receive_message_length", MESSAGE_LIMIT),
    ("grpc.max_send_message_length", MESSAGE_LIMIT),
    # A stalled server (accepting, never answering) fails its calls within 4 s: pings go unanswered.
    ("grpc.keepalive_time_ms", 2000),
    ("grpc.keepalive_timeout_ms", 2000),
    ("grpc.http2.ping_timeout_ms", 2000),  # else a ping waits up to a minute for its answer
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]


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

    `channel()` is the current server's channel; `failed(error, address, started)`
    moves on to the next address that is not known to be failing (wrapping), so a broken
    server is skipped until the others fail too. The stage is down once every
    address has failed since the last success and an attempt started after that
    failed too, and up again at the next success; every callback in `listeners`
    hears both. The retry matters for a balanced target (`dns:///stt...` under
    round_robin): one replica's death fails its streams, and their retries go to
    the others, which is no outage.
    """

    FORGET_S = 10.0

    def __init__(self, name: str, addresses: list[str]) -> None:
        if not addresses:
            raise ValueError(f"stage {name} needs at least one address")
        self.name = name
        self.addresses = addresses
        self.errors = 0
        self.down_since: float | None = None
        self.changed_at = time.time()
        """Wall time of the last change between up and down."""
        self.listeners: list[Callable[[Stage], None]] = []
        self._index = 0
        self._failing: dict[str, float] = {}
        """Address -> when it last failed, for failures since the last success within FORGET_S."""
        self._all_failed_at: float | None = None
        """When every address had failed, if none has answered since."""
        self._channels: dict[str, grpc.aio.Channel] = {}

    @property
    def address(self) -> str:
        return self.addresses[self._index]

    @property
    def available(self) -> bool:
        return self.down_since is None

    def channel(self) -> grpc.aio.Channel:
        """The channel to the current server (created on first use)."""
        address = self.address
        if address not in self._channels:
            self._channels[address] = open_aio_channel(address, options=CHANNEL_OPTIONS)
        return self._channels[address]

    def failed(self, error: BaseException, address: str, started: float) -> None:
        """Record a failure of the attempt on address begun at `started` (time.monotonic());
        fail over if address is the current one."""
        self.errors += 1
        now = time.monotonic()
        self._failing = {a: t for a, t in self._failing.items() if now - t < self.FORGET_S}
        self._failing[address] = now
        if address == self.address:
            self._index = self._next_index()
            if self.address != address:
                log.warning("%s server %s failed (%s); next: %s", self.name, address, describe(error), self.address)
        if self.down_since is not None or not set(self._failing).issuperset(self.addresses):
            return
        if self._all_failed_at is None:
            self._all_failed_at = now
        elif started >= self._all_failed_at:
            self.down_since = now
            log.error("%s is down: every server failed (%s): %s", self.name, ", ".join(self.addresses), describe(error))
            metrics.STAGE_DOWNS.labels(self.name).inc()
            self._changed()

    def ok(self, address: str) -> None:
        """The server at address answered: the stage is up."""
        if not self._failing:
            return
        self._failing.pop(address, None)
        self._all_failed_at = None
        if self.down_since is not None:
            log.warning("%s is back after %.1f s (%s)", self.name, time.monotonic() - self.down_since, address)
            metrics.STAGE_DOWN_SECONDS.labels(self.name).inc(time.monotonic() - self.down_since)
            self.down_since = None
            self._failing.clear()
            self._changed()

    def _next_index(self) -> int:
        """The next address after the current one that has not failed, else simply the next."""
        count = len(self.addresses)
        for step in range(1, count + 1):
            index = (self._index + step) % count
            if self.addresses[index] not in self._failing:
                return index
        return (self._index + 1) % count

    def _changed(self) -> None:
        self.changed_at = time.time()
        metrics.STAGE_UP.labels(self.name).set(1 if self.down_since is None else 0)
        for listener in list(self.listeners):
            listener(self)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


def describe(error: BaseException) -> str:
    """A failed call in one line: its status code and details."""
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return str(error)


def retryable(error: grpc.RpcError) -> bool:
    """Whether a stage error is the server's (fail over) rather than our request's."""
    code = error.code() if isinstance(error, grpc.aio.AioRpcError) else None
    return code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
