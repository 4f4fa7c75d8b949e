"""The ARI (Stasis) application: puts each SIP caller into the conference.

For every caller: answer, an ExternalMedia channel for their audio, a mixing
bridge of their own holding both, and a participant in the conference. When the
ARI socket or Asterisk comes back after a loss, calls that survived are kept and
the rest are cleaned up, without restarting the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from common.errors import InvalidArgument, ResourceExhausted
from common.languages import base_language
from lingua.conference.v1 import conference_pb2
from orchestrator.ari import Ari, AriError
from orchestrator.conference import Conference
from orchestrator.media import RtpMedia, WebSocketMedia

log = logging.getLogger(__name__)

PROMPT_TIMEOUT_S = 15.0
"""Longest a refusal prompt may play before the call is hung up anyway."""


@dataclass
class Call:
    """One SIP caller and the Asterisk objects made for them."""

    channel_id: str
    label: str
    media: WebSocketMedia | RtpMedia
    media_channel_id: str = ""
    bridge_id: str = ""
    participant_id: str = ""
    task: asyncio.Task[None] | None = None
    media_started: asyncio.Event = field(default_factory=asyncio.Event)


class CallHandler:
    """Handles the Stasis app's events and owns every call."""

    def __init__(self, ari: Ari, conference: Conference, media: str = "websocket") -> None:
        if media not in ("websocket", "rtp"):
            raise ValueError(f"media must be websocket or rtp, not {media!r}")
        self.ari = ari
        self.conference = conference
        self.media_kind = media
        self.calls: dict[str, Call] = {}
        self._by_media: dict[str, Call] = {}
        self._playbacks: dict[str, asyncio.Future[str]] = {}

    async def run(self) -> None:
        """Follow ARI events forever (the Ari client reconnects)."""
        async for event in self.ari.events():
            try:
                await self._dispatch(event)
            except Exception:
                log.exception("ARI event %s failed", event.get("type"))

    async def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "Connected":
            await self._reconcile()
        elif kind == "StasisStart":
            channel = event["channel"]
            if channel["id"] in self._by_media:
                self._by_media[channel["id"]].media_started.set()
            elif channel["id"] not in self.calls:
                call = Call(channel["id"], _label(channel), self._new_media(_label(channel)))
                self.calls[call.channel_id] = call
                call.task = asyncio.create_task(self._admit(call, event.get("args", [])))
        elif kind == "PlaybackFinished":
            done = self._playbacks.pop(event["playback"]["id"], None)
            if done is not None and not done.done():
                done.set_result(str(event["playback"].get("state", "")))
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            channel_id = event["channel"]["id"]
            ended = self.calls.get(channel_id) or self._by_media.get(channel_id)
            if ended is not None:
                await self._end(ended, f"{kind} for {channel_id}")

    def _new_media(self, label: str) -> WebSocketMedia | RtpMedia:
        return WebSocketMedia(label) if self.media_kind == "websocket" else RtpMedia(label)

    async def _admit(self, call: Call, args: list[str]) -> None:
        """Answer, attach media, bridge, and join the conference; then pump media until it ends."""
        try:
            if not args or not args[0]:
                raise InvalidArgument("no language: the dialplan must call Stasis(lingua,<language>[,<profile>])")
            language = base_language(args[0])
            profile = args[1] if len(args) > 1 else ""
            self.conference.check_room()
            await self.ari.request("POST", f"channels/{call.channel_id}/answer")
            if isinstance(call.media, RtpMedia):
                await call.media.open()
            # Named before it exists: its StasisStart can come before this POST's answer, and must not be
            # taken for a new caller.
            call.media_channel_id = f"lingua-media-{uuid.uuid4().hex}"
            self._by_media[call.media_channel_id] = call
            media = await self.ari.request(
                "POST",
                "channels/externalMedia",
                channelId=call.media_channel_id,
                app=self.ari.config.app,
                external_host=call.media.external_host(),
                **call.media.params,
            )
            await call.media.connect(self.ari.session, self.ari.config.url, media)
            await asyncio.wait_for(call.media_started.wait(), 10)
            bridge = await self.ari.request("POST", "bridges", type="mixing", name=f"lingua-{call.channel_id}")
            call.bridge_id = bridge["id"]
            await self.ari.request(
                "POST", f"bridges/{call.bridge_id}/addChannel", channel=f"{call.channel_id},{call.media_channel_id}"
            )
        except ResourceExhausted as error:
            log.warning("refused caller %s: %s", call.label, error)
            await self._refuse(call, "conf-full", str(error))
            return
        except (InvalidArgument, AriError, TimeoutError, KeyError) as error:
            log.error("cannot admit caller %s: %s", call.label, error)
            await self._refuse(call, "cannot-complete-as-dialed", str(error))
            return
        try:
            participant = self.conference.join(call.label, language, profile, call.media, conference_pb2.TRANSPORT_SIP)
        except ResourceExhausted as error:  # filled up while this call was being set up
            log.warning("refused caller %s: %s", call.label, error)
            await self._refuse(call, "conf-full", str(error))
            return
        call.participant_id = participant.id
        try:
            await call.media.run(participant.receive)
        finally:
            await self._end(call, "media closed")

    async def _refuse(self, call: Call, sound: str, why: str) -> None:
        """Tell the caller why (a core-sounds prompt), then hang up: never a silent or dropped call."""
        try:
            await self.ari.request("POST", f"channels/{call.channel_id}/answer")
            done = asyncio.get_running_loop().create_future()
            playback = await self.ari.request("POST", f"channels/{call.channel_id}/play", media=f"sound:{sound}")
            self._playbacks[playback["id"]] = done
            if await asyncio.wait_for(done, PROMPT_TIMEOUT_S) == "failed":
                log.warning("could not tell caller %s why: Asterisk has no sound %r", call.label, sound)
        except (AriError, TimeoutError) as error:
            log.warning("could not tell caller %s why (%s): %s", call.label, sound, error)
        await self._end(call, why)

    async def _end(self, call: Call, why: str) -> None:
        """Leave the conference and delete what was made for the call (idempotent)."""
        if self.calls.pop(call.channel_id, None) is None:
            return
        log.info("call %s ended: %s", call.label, why)
        self._by_media.pop(call.media_channel_id, None)
        if call.participant_id:
            self.conference.leave(call.participant_id)
        await call.media.close()
        for kind, object_id in (
            ("channels", call.media_channel_id),
            ("channels", call.channel_id),
            ("bridges", call.bridge_id),
        ):
            if object_id:
                with contextlib.suppress(AriError):
                    await self.ari.request("DELETE", f"{kind}/{object_id}")
        if call.task is not None and call.task is not asyncio.current_task():
            call.task.cancel()

    async def _reconcile(self) -> None:
        """After (re)connecting: drop calls whose channels Asterisk no longer has."""
        if not self.calls:
            return
        try:
            alive = {c["id"] for c in await self.ari.request("GET", "channels")}
        except AriError as error:
            log.warning("cannot list channels after reconnect: %s", error)
            return
        for call in list(self.calls.values()):
            if call.channel_id not in alive:
                await self._end(call, "channel gone after ARI reconnect")
        log.info("re-attached: %d calls kept", len(self.calls))


def _label(channel: dict[str, Any]) -> str:
    caller = channel.get("caller", {})
    who = caller.get("name") or caller.get("number") or "unknown"
    return f"{who} ({channel.get('name', channel['id'])})"
