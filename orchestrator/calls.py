"""The ARI (Stasis) application: puts each SIP caller into the conference.

For every caller: answer, an ExternalMedia channel for their audio, a mixing
bridge of their own holding both, and a participant in the conference. When the
ARI socket or Asterisk comes back after a loss, calls that survived are kept and
the rest are cleaned up, without restarting the process. On every (re)connect,
what a previous process left in the app is cleared and its callers are taken back
as new calls. Each media channel carries a hangup handler (dialplan
lingua-media-lost) that sends the caller to lingua-rejoin when the media goes
without us hanging it up: the caller hears "one moment please" and enters the app
again once an orchestrator is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from common.errors import InvalidArgument, NotFound, ResourceExhausted
from common.languages import base_language
from lingua.conference.v1 import conference_pb2
from orchestrator.ari import Ari, AriError
from orchestrator.conference import Participant
from orchestrator.media import RtpMedia, WebSocketMedia
from orchestrator.rooms import PREFIX, Room, Rooms

log = logging.getLogger(__name__)

PROMPT_TIMEOUT_S = 15.0
"""Longest a refusal prompt may play before the call is hung up anyway."""

PIN_TRIES = 3
DIGIT_TIMEOUT_S = 8.0
"""How long a caller keying in a PIN may pause between digits."""


MEDIA_LOST = "lingua-media-lost,s,1({})"
"""The media channel's hangup handler (asterisk/conf/extensions.conf), given the caller's channel name."""

REJOIN = {"context": "lingua-rejoin", "extension": "s", "priority": "1"}
"""Where a caller who lost their media goes: a prompt, then the app again."""

Caller = Literal["hangup", "keep", "rejoin"]
"""What ending a call does to the caller: hang up, leave alone (they left the app), send to REJOIN."""


@dataclass
class Call:
    """One SIP caller and the Asterisk objects made for them."""

    channel_id: str
    name: str
    label: str
    media: WebSocketMedia | RtpMedia
    media_channel_id: str = ""
    bridge_id: str = ""
    participant_id: str = ""
    task: asyncio.Task[None] | None = None
    media_started: asyncio.Event = field(default_factory=asyncio.Event)
    room: Room | None = None
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    """DTMF digits the caller keyed (RFC 4733 or SIP INFO, as Asterisk reports them)."""


class CallHandler:
    """Handles the Stasis app's events and owns every call."""

    def __init__(self, ari: Ari, rooms: Rooms, media: str = "websocket") -> None:
        if media not in ("websocket", "rtp"):
            raise ValueError(f"media must be websocket or rtp, not {media!r}")
        self.ari = ari
        self.rooms = rooms
        rooms.on_removed.append(self._removed)
        self.media_kind = media
        self.calls: dict[str, Call] = {}
        self._by_media: dict[str, Call] = {}
        self._playbacks: dict[str, asyncio.Future[str]] = {}
        self._ending: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Follow ARI events forever (the Ari client reconnects)."""
        async for event in self.ari.events():
            try:
                await self._dispatch(event)
            except Exception:
                log.exception("ARI event %s failed", event.get("type"))

    async def close(self) -> None:
        """On a graceful stop: send every caller to rejoin, where the next orchestrator takes them back."""
        for call in list(self.calls.values()):
            await self._end(call, "orchestrator stopping", caller="rejoin")

    async def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "Connected":
            await self._reconcile()
        elif kind == "StasisStart":
            channel = event["channel"]
            if channel["id"] in self._by_media:
                self._by_media[channel["id"]].media_started.set()
            elif channel["id"] not in self.calls:
                self._take(channel, event.get("args", []))
        elif kind == "ChannelDtmfReceived":
            if (call := self.calls.get(event["channel"]["id"])) is not None:
                call.dtmf.put_nowait(str(event.get("digit", "")))
        elif kind == "PlaybackFinished":
            done = self._playbacks.pop(event["playback"]["id"], None)
            if done is not None and not done.done():
                done.set_result(str(event["playback"].get("state", "")))
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            channel_id = event["channel"]["id"]
            if channel_id in self.calls:  # the caller left the app (hung up, or sent elsewhere in the dialplan)
                await self._end(self.calls[channel_id], f"{kind} for the caller", caller="keep")
            elif channel_id in self._by_media:
                await self._end(self._by_media[channel_id], f"{kind} for its media", caller="rejoin")

    def _take(self, channel: dict[str, Any], args: list[str]) -> None:
        """Start admitting a caller in the app: a new call, or one a previous process left."""
        label = _label(channel)
        media = WebSocketMedia(label) if self.media_kind == "websocket" else RtpMedia(label)
        call = Call(channel["id"], channel.get("name", ""), label, media)
        self.calls[call.channel_id] = call
        call.task = asyncio.create_task(self._admit(call, args))

    async def _admit(self, call: Call, args: list[str]) -> None:
        """Answer, attach media, bridge, and join the conference; then pump media until it ends."""
        try:
            if not args or not args[0]:
                raise InvalidArgument("no language: the dialplan must call Stasis(lingua,<language>[,<profile>])")
            language = base_language(args[0])
            profile = args[1] if len(args) > 1 else ""
            room = call.room = self.rooms.get(PREFIX + args[2] if len(args) > 2 and args[2] else "")
            room.admit(language, room.pin)  # the language; the PIN is asked below
            room.conference.check_room()
            await self.ari.request("POST", f"channels/{call.channel_id}/answer")
            if room.pin and not await self._pin(call, room):
                return
            if isinstance(call.media, RtpMedia):
                await call.media.open()
            # Named before it exists: its StasisStart can come before this POST's answer, and must not be
            # taken for a new caller.
            call.media_channel_id = self._media_prefix + uuid.uuid4().hex
            self._by_media[call.media_channel_id] = call
            media = await self.ari.request(
                "POST",
                "channels/externalMedia",
                channelId=call.media_channel_id,
                app=self.ari.config.app,
                external_host=call.media.external_host(),
                body={"variables": {"CHANNEL(hangup_handler_push)": MEDIA_LOST.format(call.name)}},
                **call.media.params,
            )
            await call.media.connect(self.ari.session, self.ari.config.url, media)
            await asyncio.wait_for(call.media_started.wait(), 10)
            bridge = await self.ari.request("POST", "bridges", type="mixing", name=self._bridge_name(call.channel_id))
            call.bridge_id = bridge["id"]
            await self.ari.request(
                "POST", f"bridges/{call.bridge_id}/addChannel", channel=f"{call.channel_id},{call.media_channel_id}"
            )
        except ResourceExhausted as error:
            log.warning("refused caller %s: %s", call.label, error)
            await self._refuse(call, str(error), "conf-full")
            return
        except NotFound as error:
            log.warning("caller %s dialled an unknown room: %s", call.label, error)
            await self._refuse(call, str(error), "conf-invalid")
            return
        except InvalidArgument as error:
            log.error("cannot admit caller %s: %s", call.label, error)
            await self._refuse(call, str(error), "cannot-complete-as-dialed")
            return
        except (AriError, TimeoutError, KeyError) as error:
            log.error("cannot admit caller %s: %s", call.label, error)
            await self._refuse(call, str(error), "im-sorry", "please-try-call-later")
            return
        try:
            participant = room.conference.join(call.label, language, profile, call.media, conference_pb2.TRANSPORT_SIP)
        except ResourceExhausted as error:  # filled up while this call was being set up
            log.warning("refused caller %s: %s", call.label, error)
            await self._refuse(call, str(error), "conf-full")
            return
        call.participant_id = participant.id
        try:
            await call.media.run(participant.receive)
        finally:
            await self._end(call, "media closed", caller="rejoin")

    async def _pin(self, call: Call, room: Room) -> bool:
        """Ask for the room's PIN (DTMF, ended by # or its length); after PIN_TRIES wrong ones, a prompt and hang-up."""
        for _ in range(PIN_TRIES):
            while not call.dtmf.empty():
                call.dtmf.get_nowait()
            await self._play(call, "conf-getpin")
            keyed = ""
            try:
                while (
                    len(keyed) < len(room.pin)
                    and (digit := await asyncio.wait_for(call.dtmf.get(), DIGIT_TIMEOUT_S)) != "#"
                ):
                    keyed += digit
            except TimeoutError:
                pass
            if room.pin_matches(keyed):
                return True
            log.warning("caller %s keyed a wrong PIN for %s", call.label, room.name)
            await self._play(call, "conf-invalidpin")
        log.warning("caller %s hung up after %d wrong PINs for %s", call.label, PIN_TRIES, room.name)
        await self._refuse(call, f"{PIN_TRIES} wrong PINs for {room.name}", "vm-goodbye")
        return False

    async def _play(self, call: Call, *sounds: str) -> None:
        """Play core-sounds prompts to the caller, in turn, and wait until they end."""
        done = asyncio.get_running_loop().create_future()
        media = ",".join(f"sound:{sound}" for sound in sounds)
        playback = await self.ari.request("POST", f"channels/{call.channel_id}/play", media=media)
        self._playbacks[playback["id"]] = done
        if await asyncio.wait_for(done, PROMPT_TIMEOUT_S) == "failed":
            log.warning("could not play %r to caller %s: Asterisk lacks a sound", media, call.label)

    async def _refuse(self, call: Call, why: str, *sounds: str) -> None:
        """Tell the caller why (core-sounds prompts, played in turn), then hang up: never a silent or dropped call."""
        try:
            await self.ari.request("POST", f"channels/{call.channel_id}/answer")
            await self._play(call, *sounds)
        except (AriError, TimeoutError) as error:
            log.warning("could not tell caller %s why (%s): %s", call.label, sounds, error)
        await self._end(call, why)

    def _removed(self, participant: Participant) -> None:
        """A moderator removed a SIP participant (or deleted their room): hang up their call."""
        for call in list(self.calls.values()):
            if call.participant_id == participant.id:
                task = asyncio.get_running_loop().create_task(self._end(call, "removed by a moderator"))
                self._ending.add(task)
                task.add_done_callback(self._ending.discard)

    async def _end(self, call: Call, why: str, caller: Caller = "hangup") -> None:
        """Leave the conference, deal with the caller, and delete what was made for the call (idempotent)."""
        if self.calls.pop(call.channel_id, None) is None:
            return
        log.info("call %s ended: %s", call.label, why)
        self._by_media.pop(call.media_channel_id, None)
        if call.participant_id and call.room is not None:
            call.room.conference.leave(call.participant_id)
        if call.media_channel_id:  # before the media closes: its hangup handler must not send the caller on
            await self._quiet(call.media_channel_id)
        await call.media.close()
        with contextlib.suppress(AriError):  # the caller may be gone, or no longer in the app
            if caller == "hangup":
                await self.ari.request("DELETE", f"channels/{call.channel_id}")
            elif caller == "rejoin":
                await self.ari.request("POST", f"channels/{call.channel_id}/continue", **REJOIN)
        for kind, object_id in (("channels", call.media_channel_id), ("bridges", call.bridge_id)):
            if object_id:
                with contextlib.suppress(AriError):
                    await self.ari.request("DELETE", f"{kind}/{object_id}")
        if call.task is not None and call.task is not asyncio.current_task():
            call.task.cancel()

    async def _quiet(self, media_channel_id: str) -> None:
        """Remove a media channel's hangup handler, so hanging it up leaves its caller where they are."""
        with contextlib.suppress(AriError):
            await self.ari.request(
                "POST", f"channels/{media_channel_id}/variable", variable="CHANNEL(hangup_handler_wipe)", value=""
            )

    async def _reconcile(self) -> None:
        """After (re)connecting: end calls Asterisk lost, clear what a previous process left, take back its callers."""
        try:
            channels: list[dict[str, Any]] = await self.ari.request("GET", "channels")
            bridges: list[dict[str, Any]] = await self.ari.request("GET", "bridges")
        except AriError as error:
            log.warning("cannot list channels and bridges after connecting: %s", error)
            return
        alive = {c["id"] for c in channels}
        for call in list(self.calls.values()):
            if call.channel_id not in alive:
                await self._end(call, "channel gone after ARI reconnect", caller="keep")
        callers: list[tuple[dict[str, Any], list[str]]] = []
        leftovers: list[str] = []  # ARI paths to delete
        for channel in channels:
            args = self._stasis_args(channel)
            if args is None or channel["id"] in self.calls or channel["id"] in self._by_media:
                continue
            if channel["id"].startswith(self._media_prefix):
                await self._quiet(channel["id"])
                leftovers.append(f"channels/{channel['id']}")
            else:
                callers.append((channel, args))
        ours = {self._bridge_name(channel_id) for channel_id in self.calls}
        mine = self._bridge_name("")
        leftovers += [
            f"bridges/{b['id']}" for b in bridges if b.get("name", "").startswith(mine) and b["name"] not in ours
        ]
        for path in leftovers:
            with contextlib.suppress(AriError):
                await self.ari.request("DELETE", path)
        for channel, args in callers:
            log.info("taking back caller %s from a previous process", _label(channel))
            self._take(channel, args)
        log.info(
            "ARI connected: %d calls kept, %d callers taken back, %d leftover media channels and bridges deleted",
            len(self.calls) - len(callers),
            len(callers),
            len(leftovers),
        )

    @property
    def _media_prefix(self) -> str:
        """Our media channels' ids start with this: the app's name, so shards sharing an Asterisk keep apart."""
        return f"{self.ari.config.app}-media-"

    def _bridge_name(self, channel_id: str) -> str:
        """The name of a caller's bridge: the app's and the caller's channel id."""
        return f"{self.ari.config.app}:{channel_id}"

    def _stasis_args(self, channel: dict[str, Any]) -> list[str] | None:
        """The Stasis arguments of a channel in our app, or None when it is not in it."""
        dialplan = channel.get("dialplan", {})
        app, *args = str(dialplan.get("app_data", "")).split(",")
        return args if dialplan.get("app_name") == "Stasis" and app == self.ari.config.app else None


def _label(channel: dict[str, Any]) -> str:
    caller = channel.get("caller", {})
    who = caller.get("name") or caller.get("number") or "unknown"
    return f"{who} ({channel.get('name', channel['id'])})"
