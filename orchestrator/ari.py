"""A small asyncio client for the Asterisk REST Interface (ARI).

One long-lived events websocket (subscribeAll=false) that reconnects with
backoff, and the handful of REST calls the conference needs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from orchestrator.stages import Backoff

log = logging.getLogger(__name__)


class AriError(Exception):
    """An ARI request failed; status is the HTTP status (0 when unreachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"ARI {status}: {message}")
        self.status = status


@dataclass
class AriConfig:
    """Where ARI is and who we are."""

    url: str  # the ARI base, e.g. http://127.0.0.1:8088/ari
    user: str
    password: str
    app: str = "lingua"


class Ari:
    """ARI REST calls and the event stream for one Stasis application."""

    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                auth=aiohttp.BasicAuth(self.config.user, self.config.password),
                timeout=aiohttp.ClientTimeout(total=10),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, **params: Any) -> Any:
        """Call <ARI base>/<path>; returns the decoded JSON body (None when empty)."""
        query = {k: v for k, v in params.items() if v is not None}
        body = query.pop("body", None)
        try:
            async with self.session.request(method, f"{self.config.url}/{path}", params=query, json=body) as response:
                text = await response.text()
                if response.status >= 300:
                    raise AriError(response.status, f"{method} {path}: {text.strip()}")
                return json.loads(text) if text else None
        except aiohttp.ClientError as error:
            raise AriError(0, f"{method} {path}: {error}") from error

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Events for our app, forever: reconnects with backoff when the socket or Asterisk goes.

        After each (re)connect it yields a synthetic {"type": "Connected"} event
        so the application can re-attach to what survived.
        """
        backoff = Backoff(initial=0.2, cap=10.0)
        ws_url = self.config.url.replace("http", "ws", 1) + "/events"
        params = {"app": self.config.app, "subscribeAll": "false"}
        while True:
            try:
                async with self.session.ws_connect(ws_url, params=params, heartbeat=15) as ws:
                    log.info("ARI events connected (app %s)", self.config.app)
                    backoff.reset()
                    yield {"type": "Connected"}
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            yield json.loads(message.data)
                        elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            break
                log.warning("ARI events socket closed; reconnecting")
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                log.warning("ARI events unavailable (%s); retrying", error)
            await backoff.wait()
