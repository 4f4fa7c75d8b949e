"""Rooms: many conferences at once, each with its own participants, captions, metrics,
optional PIN and allowed languages, named `conferences/{id}`. `conferences/default`
always exists; calls and Join streams that name no room go there."""

from __future__ import annotations

import asyncio
import base64
import hmac
import itertools
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RequestError,
    ResourceExhausted,
)
from common.languages import base_language
from orchestrator.conference import Conference, Participant, tick_forever
from orchestrator.room_store import RoomStore, Saved

DEFAULT = "default"
ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
PIN = re.compile(r"[0-9]{4,8}")
PREFIX = "conferences/"


def shard_of(room_id: str, shards: int) -> int:
    """The orchestrator shard a room lives on: its number mod the shard count (a crc32 for ids
    that are not numbers); deploy/asterisk routes a dialled room the same way."""
    number = int(room_id) if room_id.isdigit() else zlib.crc32(room_id.encode())
    return number % shards


@dataclass
class Room:
    """One conference and what its resource says about it."""

    id: str
    display_name: str
    pin: str
    languages: frozenset[str]
    conference: Conference
    created: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        return PREFIX + self.id

    def pin_matches(self, pin: str) -> bool:
        """Whether pin opens the room (compared in constant time)."""
        return not self.pin or hmac.compare_digest(self.pin.encode(), pin.encode())

    def admit(self, language: str, pin: str) -> None:
        """PermissionDenied for a wrong PIN, InvalidArgument for a language the room does not allow."""
        if not self.pin_matches(pin):
            raise PermissionDenied(f"{self.name} needs its PIN: {'a wrong' if pin else 'no'} PIN was given")
        if self.languages and language not in self.languages:
            allowed = ", ".join(sorted(self.languages))
            raise InvalidArgument(f"{self.name} allows only {allowed}; {language!r} is not one of them")


Make = Callable[[str, Iterator[int], Callable[[], int]], Conference]
"""Builds a room's Conference from its id, the shared participant numbers and the count of everyone."""


class Rooms:
    """The rooms of this orchestrator; `make` builds each room's Conference, `start` runs their loops.

    With a store, rooms are saved as they are made and deleted, and the saved ones are back at start.
    """

    def __init__(
        self, make: Make, shard: int = 0, shards: int = 1, max_rooms: int = 100, store: RoomStore | None = None
    ) -> None:
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} of {shards}: need 0 <= shard < shards")
        self._make = make
        self.shard, self.shards = shard, shards
        self.max_rooms = max_rooms
        self._task: asyncio.Task[None] | None = None
        self.rooms: dict[str, Room] = {}
        self.ids = itertools.count(1)
        """Participant numbers, unique across rooms."""
        self.on_removed: list[Callable[[Participant], None]] = []
        """Told of every participant removed by a moderator or with their room (to end their stream or call)."""
        self.store: RoomStore | None = None
        self.create(DEFAULT, "Default room")
        if store is not None:
            self._restore(store)
        self.store = store

    def start(self) -> None:
        """Start the frame loop: one 20 ms tick for every room with someone in it."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(tick_forever(self._tick))

    def stop(self) -> None:
        """Stop the frame loop."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def default(self) -> Room:
        return self.rooms[DEFAULT]

    def total(self) -> int:
        """Participants in every room."""
        return sum(len(room.conference.participants) for room in self.rooms.values())

    def _tick(self) -> None:
        for room in list(self.rooms.values()):
            if room.conference.participants:
                room.conference.tick()

    def create(self, room_id: str, display_name: str = "", pin: str = "", languages: list[str] | None = None) -> Room:
        """Make a room (an empty id picks a free number on this shard)."""
        room_id = room_id or self._free_number()
        if not ID.fullmatch(room_id):
            raise InvalidArgument(
                f"conference_id {room_id!r}: use 1-63 of a-z, 0-9 and '-', not starting or ending in '-'"
            )
        if room_id in self.rooms:
            raise AlreadyExists(f"{PREFIX}{room_id} exists")
        if len(self.rooms) > self.max_rooms:
            raise ResourceExhausted(f"{len(self.rooms) - 1} rooms exist, the most this orchestrator keeps; delete one")
        if room_id != DEFAULT and (owner := shard_of(room_id, self.shards)) != self.shard:
            raise FailedPrecondition(
                f"{PREFIX}{room_id} belongs on orchestrator shard {owner} of {self.shards}, not {self.shard}: "
                "create it there"
            )
        if pin and not PIN.fullmatch(pin):
            raise InvalidArgument("pin must be 4 to 8 digits (callers key it in as DTMF)")
        allowed = frozenset(base_language(c) for c in languages or [])
        room = Room(room_id, display_name, pin, allowed, self._make(room_id, self.ids, self.total))
        self.rooms[room_id] = room
        self._save()
        return room

    def get(self, name: str) -> Room:
        """The room named `conferences/{id}` (an empty name is the default room)."""
        if not name:
            return self.default
        room_id = name.removeprefix(PREFIX)
        if not name.startswith(PREFIX) or not ID.fullmatch(room_id):
            raise InvalidArgument(f"{name!r} is not a conference name: expected conferences/{{conference_id}}")
        if room_id not in self.rooms:
            raise NotFound(f"no conference {name}")
        return self.rooms[room_id]

    def page(self, size: int, token: str) -> tuple[list[Room], str]:
        """A page of rooms in id order, and the next page's token ('' on the last)."""
        after = _untoken(token)
        rooms = sorted((r for r in self.rooms.values() if r.id > after), key=lambda r: r.id)
        size = _page_size(size)
        more = len(rooms) > size
        rooms = rooms[:size]
        return rooms, _token(rooms[-1].id) if more else ""

    def delete(self, name: str) -> None:
        """End a room: its participants are removed, its loop stopped."""
        room = self.get(name)
        if room.id == DEFAULT:
            raise FailedPrecondition("conferences/default cannot be deleted")
        del self.rooms[room.id]
        self._save()
        for participant in list(room.conference.participants.values()):
            self.remove(room, participant)
        room.conference.close()

    def participant(self, name: str) -> tuple[Room, Participant]:
        """The participant named `conferences/{id}/participants/{participant_id}`."""
        parent, sep, participant_id = name.rpartition("/participants/")
        if not sep:
            raise InvalidArgument(
                f"{name!r} is not a participant name: expected conferences/{{id}}/participants/{{id}}"
            )
        room = self.get(parent)
        if participant_id not in room.conference.participants:
            raise NotFound(f"no participant {participant_id} in {room.name}")
        return room, room.conference.participants[participant_id]

    def remove(self, room: Room, participant: Participant) -> None:
        """Take a participant out of their room and tell their transport's owner."""
        room.conference.leave(participant.id)
        for removed in self.on_removed:
            removed(participant)

    def all_participants(self) -> Iterator[tuple[Room, Participant]]:
        for room in list(self.rooms.values()):
            for participant in list(room.conference.participants.values()):
                yield room, participant

    def _restore(self, store: RoomStore) -> None:
        """Make the saved rooms again, checked as new ones are (the shard rule too: another shard's file fails)."""
        for saved in store.load():
            try:
                room = self.create(saved["id"], saved["display_name"], saved["pin"], saved["languages"])
            except RequestError as error:
                raise SystemExit(f"--rooms-file {store.path}: {error}") from error
            room.created = saved["created"]

    def _save(self) -> None:
        if self.store is not None:
            self.store.save([_saved(r) for r in self.rooms.values() if r.id != DEFAULT])

    def _free_number(self) -> str:
        while (number := str(random.randint(1000, 9999))) in self.rooms or shard_of(number, self.shards) != self.shard:
            pass
        return number


def _saved(room: Room) -> Saved:
    return Saved(
        id=room.id, display_name=room.display_name, pin=room.pin, languages=sorted(room.languages), created=room.created
    )


def _page_size(size: int) -> int:
    if size < 0:
        raise InvalidArgument("page_size must not be negative")
    return min(size or 100, 1000)


def _token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode() if token else ""
    except ValueError as error:
        raise InvalidArgument("page_token is not one this server gave") from error


def page_of(items: list[Participant], size: int, token: str) -> tuple[list[Participant], str]:
    """A page of participants (in join order) after the one the token names."""
    after = _untoken(token)
    start = next((i + 1 for i, p in enumerate(items) if p.id == after), 0) if after else 0
    size = _page_size(size)
    page = items[start : start + size]
    return page, _token(page[-1].id) if start + size < len(items) else ""
