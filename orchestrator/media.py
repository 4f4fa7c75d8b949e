"""Media transports between Asterisk's ExternalMedia channels and the conference.

WebSocketMedia (default) speaks chan_websocket: binary 640-byte slin16 frames both
ways plus JSON control events. RtpMedia is for Asterisk without chan_websocket:
G.722 over RTP/UDP both ways (Asterisk 22 drops slin16 sent to it over RTP).

Whatever else arrives is dropped, never heard and never fatal to the call: a binary
message that is not whole 10 ms blocks of samples, text that is not a JSON event, an
RTP packet that is not version 2 G.722 of a sane size from where Asterisk sends. Each is
counted in lingua_media_rejected_total{transport,reason} and logged at most every
LOG_EVERY_S per call.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import os
import struct
import time
from collections.abc import Callable
from typing import Any, ClassVar

import aiohttp
from G722 import G722

from orchestrator import metrics

log = logging.getLogger(__name__)

Receive = Callable[[bytes], None]

BLOCK_BYTES = 320
"""10 ms of slin16: Asterisk sends the caller's packetization (whole 10 ms) as it comes."""
MAX_MESSAGE_BYTES = 20 * BLOCK_BYTES
"""200 ms of slin16, more than any packetization Asterisk uses."""
MAX_G722_PAYLOAD = 1600
"""200 ms of G.722 at 64 kbit/s."""
IGNORED_EVENTS = frozenset({"MEDIA_BUFFERING_COMPLETED", "MEDIA_MARK_PROCESSED", "QUEUE_DRAINED", "STATUS", "DTMF_END"})
"""chan_websocket events with nothing for us to do (not counted as rejected)."""
EVENTS = IGNORED_EVENTS | {"MEDIA_START", "MEDIA_XOFF", "MEDIA_XON"}
LOG_EVERY_S = 10.0


class Malformed(Exception):
    """Media input to drop; reason labels lingua_media_rejected_total."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rejects:
    """Counts one call's dropped input by reason; logs it at most once every LOG_EVERY_S."""

    def __init__(self, transport: str, label: str) -> None:
        self.transport = transport
        self.label = label
        self._unlogged: collections.Counter[str] = collections.Counter()
        self._logged_at = -math.inf

    def __call__(self, reason: str) -> None:
        metrics.MEDIA_REJECTED.labels(self.transport, reason).inc()
        self._unlogged[reason] += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            counts = ", ".join(f"{n} {why}" for why, n in sorted(self._unlogged.items()))
            log.warning("media for %s: dropped bad %s input: %s", self.label, self.transport, counts)
            self._unlogged.clear()
            self._logged_at = now


def pcm_frames(data: bytes) -> bytes:
    """data if it is whole 10 ms blocks of slin16, at most MAX_MESSAGE_BYTES; else Malformed."""
    if not data or len(data) % BLOCK_BYTES:
        raise Malformed("length")
    if len(data) > MAX_MESSAGE_BYTES:
        raise Malformed("too_large")
    return data


def control_event(text: str) -> dict[str, Any]:
    """A chan_websocket JSON control event with a known name; else Malformed."""
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep to parse
        raise Malformed("not_json") from None
    if not isinstance(event, dict) or event.get("event") not in EVENTS:
        raise Malformed("unknown_event")
    return event


def rtp_payload(data: bytes, payload_type: int) -> bytes:
    """The audio of an RTP version 2 packet of payload_type, without header, extension and padding; else Malformed."""
    if len(data) < 12:
        raise Malformed("short")
    if data[0] >> 6 != 2:
        raise Malformed("version")
    if data[1] & 0x7F != payload_type:
        raise Malformed("payload_type")
    start = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        if len(data) < start + 4:
            raise Malformed("truncated")
        start += 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
    end = len(data) - (data[-1] if data[0] & 0x20 else 0)
    if end <= start:
        raise Malformed("truncated")
    if end - start > MAX_G722_PAYLOAD:
        raise Malformed("too_large")
    return data[start:end]


class WebSocketMedia:
    """One caller's chan_websocket media connection."""

    params: ClassVar[dict[str, str]] = {
        "transport": "websocket",
        "encapsulation": "none",
        "connection_type": "server",
        "format": "slin16",
    }

    def __init__(self, label: str) -> None:
        self.label = label
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._out: asyncio.Queue[bytes] = asyncio.Queue(maxsize=100)
        self._paused = False
        self._rejects = Rejects("websocket", label)
        self.dropped = 0

    def external_host(self) -> str:
        return "INCOMING"

    async def connect(self, session: aiohttp.ClientSession, base_url: str, channel: dict[str, Any]) -> None:
        """Open ws://<asterisk>/media/<MEDIA_WEBSOCKET_CONNECTION_ID> for the channel."""
        connection = channel["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"]
        url = base_url.replace("http", "ws", 1).removesuffix("/ari") + f"/media/{connection}"
        self._ws = await session.ws_connect(url, max_msg_size=0, heartbeat=None, autoping=True)

    def send(self, frame: bytes) -> None:
        """Queue a frame (called by the tick; never blocks)."""
        if self._paused:
            return
        try:
            self._out.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self, receive: Receive) -> None:
        """Pump frames both ways until the socket closes."""
        assert self._ws is not None
        writer = asyncio.create_task(self._write(self._ws))
        try:
            async for message in self._ws:
                try:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        receive(pcm_frames(message.data))
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        self._control(control_event(message.data))
                    else:
                        break
                except Malformed as error:
                    self._rejects(error.reason)
        finally:
            writer.cancel()
            await self._ws.close()

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await ws.send_bytes(await self._out.get())

    def _control(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "MEDIA_XOFF":
            self._paused = True
            log.warning("media for %s: Asterisk's queue is full (XOFF); pausing", self.label)
        elif kind == "MEDIA_XON":
            self._paused = False
        elif kind == "MEDIA_START":
            log.info("media for %s started: %s at %s ms", self.label, event.get("format"), event.get("ptime"))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()


class RtpMedia(asyncio.DatagramProtocol):
    """One caller's RTP media: G.722 (payload type 9, 8 kHz RTP clock) both ways."""

    params: ClassVar[dict[str, str]] = {"transport": "udp", "encapsulation": "rtp", "format": "g722"}
    PAYLOAD_TYPE = 9

    def __init__(self, label: str, bind_host: str = "127.0.0.1") -> None:
        self.label = label
        self.bind_host = bind_host
        self._decoder = G722(16000, 64000)
        self._encoder = G722(16000, 64000)
        self._transport: asyncio.DatagramTransport | None = None
        self._peer: tuple[str, int] | None = None
        self._receive: Receive | None = None
        self._rejects = Rejects("rtp", label)
        self._closed = asyncio.Event()
        self._seq = int.from_bytes(os.urandom(2), "big")
        self._timestamp = int.from_bytes(os.urandom(4), "big")
        self._ssrc = int.from_bytes(os.urandom(4), "big")
        self.port = 0

    async def open(self) -> None:
        """Bind the local UDP port that Asterisk will send to."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.bind_host, 0))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def external_host(self) -> str:
        return f"{self.bind_host}:{self.port}"

    async def connect(self, session: aiohttp.ClientSession, base_url: str, channel: dict[str, Any]) -> None:
        """Send to where Asterisk listens for this channel."""
        variables = channel["channelvars"]
        self._peer = (variables["UNICASTRTP_LOCAL_ADDRESS"], int(variables["UNICASTRTP_LOCAL_PORT"]))

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Decode G.722 from Asterisk's address into the call; drop and count anything else (form checked first)."""
        if self._receive is None:
            return
        try:
            payload = rtp_payload(data, self.PAYLOAD_TYPE)
            if addr[:2] != self._peer:
                raise Malformed("source")
        except Malformed as error:
            self._rejects(error.reason)
            return
        self._receive(self._decoder.decode(payload).tobytes())

    def send(self, frame: bytes) -> None:
        """Encode and send one 20 ms frame (never blocks)."""
        if self._transport is None or self._peer is None:
            return
        samples = memoryview(frame).cast("h")
        payload = self._encoder.encode(samples)
        header = struct.pack("!BBHII", 0x80, self.PAYLOAD_TYPE, self._seq, self._timestamp, self._ssrc)
        self._seq = (self._seq + 1) & 0xFFFF
        self._timestamp = (self._timestamp + 160) & 0xFFFFFFFF
        self._transport.sendto(header + payload, self._peer)

    async def run(self, receive: Receive) -> None:
        """Receive until closed."""
        self._receive = receive
        await self._closed.wait()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed.set()

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._closed.set()
