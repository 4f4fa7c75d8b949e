"""The room and moderation RPCs of ConferenceService (googleapis resource style)."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from common.errors import InvalidArgument, handle_errors
from common.languages import base_language
from lingua.conference.v1 import conference_pb2
from orchestrator.conference import Participant
from orchestrator.languages import ServedLanguages
from orchestrator.rooms import Room, Rooms, page_of


def conference_message(room: Room) -> conference_pb2.Conference:
    out = conference_pb2.Conference(
        name=room.name,
        display_name=room.display_name,
        pin_required=bool(room.pin),
        allowed_language_codes=sorted(room.languages),
        participant_count=len(room.conference.participants),
    )
    out.create_time.FromNanoseconds(int(room.created * 1e9))
    return out


def participant_message(room: Room, p: Participant) -> conference_pb2.Participant:
    out = conference_pb2.Participant(
        name=f"{room.name}/participants/{p.id}",
        participant_id=p.id,
        display_name=p.name,
        language_code=p.language,
        voice_profile_id=p.profile_id,
        transport=p.kind,  # type: ignore[arg-type]
        muted=p.muted,
    )
    out.join_time.FromSeconds(int(p.joined_at))
    return out


class RoomsApi:
    """CreateConference, GetConference, ListConferences, DeleteConference, ListParticipants and moderation."""

    rooms: Rooms
    languages: ServedLanguages

    @handle_errors
    async def CreateConference(
        self, request: conference_pb2.CreateConferenceRequest, context: grpc.aio.ServicerContext
    ) -> conference_pb2.Conference:
        if not request.HasField("conference"):
            raise InvalidArgument("conference is required (its display_name, pin and allowed_language_codes)")
        wanted = request.conference
        for code in wanted.allowed_language_codes:
            await self.languages.check(base_language(code))
        room = self.rooms.create(
            request.conference_id, wanted.display_name, wanted.pin, list(wanted.allowed_language_codes)
        )
        return conference_message(room)

    @handle_errors
    async def GetConference(
        self, request: conference_pb2.GetConferenceRequest, context: grpc.aio.ServicerContext
    ) -> conference_pb2.Conference:
        return conference_message(self.rooms.get(_required(request.name, "name")))

    @handle_errors
    async def ListConferences(
        self, request: conference_pb2.ListConferencesRequest, context: grpc.aio.ServicerContext
    ) -> conference_pb2.ListConferencesResponse:
        rooms, token = self.rooms.page(request.page_size, request.page_token)
        return conference_pb2.ListConferencesResponse(
            conferences=[conference_message(r) for r in rooms], next_page_token=token
        )

    @handle_errors
    async def DeleteConference(
        self, request: conference_pb2.DeleteConferenceRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        self.rooms.delete(_required(request.name, "name"))
        return empty_pb2.Empty()

    @handle_errors
    async def ListParticipants(
        self, request: conference_pb2.ListParticipantsRequest, context: grpc.aio.ServicerContext
    ) -> conference_pb2.ListParticipantsResponse:
        room = self.rooms.get(request.parent)
        people, token = page_of(list(room.conference.participants.values()), request.page_size, request.page_token)
        return conference_pb2.ListParticipantsResponse(
            participants=[participant_message(room, p) for p in people], next_page_token=token
        )

    @handle_errors
    async def MuteParticipant(
        self, request: conference_pb2.MuteParticipantRequest, context: grpc.aio.ServicerContext
    ) -> conference_pb2.Participant:
        return self._set_muted(request.name, True)

    @handle_errors
    async def UnmuteParticipant(
        self, request: conference_pb2.UnmuteParticipantRequest, context: grpc.aio.ServicerContext
    ) -> conference_pb2.Participant:
        return self._set_muted(request.name, False)

    def _set_muted(self, name: str, muted: bool) -> conference_pb2.Participant:
        room, p = self.rooms.participant(_required(name, "name"))
        p.muted = muted
        return participant_message(room, p)

    @handle_errors
    async def RemoveParticipant(
        self, request: conference_pb2.RemoveParticipantRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        room, p = self.rooms.participant(_required(request.name, "name"))
        self.rooms.remove(room, p)
        return empty_pb2.Empty()


def _required(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required")
    return value
