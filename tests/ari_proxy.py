"""A proxy in front of Asterisk's HTTP server, for tests that reach into the orchestrator's media path.

Pointed at by the orchestrator's ARI_URL, it forwards ARI requests, the ARI events
websocket and the chan_websocket media sockets both ways unchanged; it notes where each
ExternalMedia channel was asked to send (`external_hosts`), and `inject` sends the
orchestrator extra media messages as if Asterisk had sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from yarl import URL

FORWARDED = ("authorization", "content-type")
"""Request headers passed on to Asterisk."""

T = TypeVar("T")
Socket = aiohttp.ClientWebSocketResponse | web.WebSocketResponse


class AriProxy:
    """Runs on its own event loop in a thread; use as a context manager."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = 0
        self.external_hosts: list[str] = []
        self._media: list[web.WebSocketResponse] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def __enter__(self) -> AriProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def inject(self, messages: list[bytes | str]) -> int:
        """Send the messages (bytes: binary, str: text) on every open media socket; how many sockets got them."""
        return self._call(self._inject(messages))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def _stop(self) -> None:
        for ws in list(self._media):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _inject(self, messages: list[bytes | str]) -> int:
        sockets = [ws for ws in self._media if not ws.closed]
        for ws in sockets:
            for message in messages:
                await (ws.send_str(message) if isinstance(message, str) else ws.send_bytes(message))
        return len(sockets)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, headers)
        if request.path.endswith("/channels/externalMedia"):
            self.external_hosts.append(request.query.get("external_host", ""))
        url = URL(self.upstream + request.raw_path, encoded=True)
        async with self._session.request(request.method, url, headers=headers, data=await request.read()) as answer:
            kept = {k: v for k, v in answer.headers.items() if k.lower() == "content-type"}
            return web.Response(status=answer.status, body=await answer.read(), headers=kept)

    async def _websocket(self, request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
        """Both ways between the orchestrator and Asterisk until either side closes."""
        assert self._session is not None
        url = URL(self.upstream.replace("http", "ws", 1) + request.raw_path, encoded=True)
        try:
            upstream = await self._session.ws_connect(url, headers=headers, max_msg_size=0, autoping=True)
        except aiohttp.WSServerHandshakeError as error:
            return web.Response(status=error.status, text=error.message)
        downstream = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await downstream.prepare(request)
        media = request.path.startswith("/media/")
        if media:
            self._media.append(downstream)
        pumps = [asyncio.create_task(_pump(upstream, downstream)), asyncio.create_task(_pump(downstream, upstream))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            if media:
                self._media.remove(downstream)
            await upstream.close()
            await downstream.close()
        return downstream


async def _pump(source: Socket, sink: Socket) -> None:
    """Copy text and binary messages from one websocket to the other until the source closes."""
    with contextlib.suppress(ConnectionError):
        async for message in source:
            if message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            else:
                return
