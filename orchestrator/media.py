"""Media transports between Asterisk's ExternalMedia channels and the conference.

WebSocketMedia (default) speaks chan_websocket: binary 640-byte slin16 frames both
ways plus JSON control events. RtpMedia is for Asterisk without chan_websocket:
G.722 over RTP/UDP both ways (Asterisk 22 drops slin16 sent to it over RTP).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
from collections.abc import Callable
from typing import Any, ClassVar

import aiohttp
from G722 import G722

log = logging.getLogger(__name__)

Receive = Callable[[bytes], None]


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
                if message.type == aiohttp.WSMsgType.BINARY:
                    receive(message.data)
                elif message.type == aiohttp.WSMsgType.TEXT:
                    self._control(json.loads(message.data))
                else:
                    break
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
        if len(data) < 12 or self._receive is None:
            return
        csrc = data[0] & 0x0F
        offset = 12 + 4 * csrc
        if data[0] & 0x10 and len(data) >= offset + 4:
            offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
        if data[1] & 0x7F == self.PAYLOAD_TYPE:
            self._receive(self._decoder.decode(data[offset:]).tobytes())

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
