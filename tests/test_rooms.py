"""Rooms over real processes: the resource API (googleapis style), Join into a room with
its PIN and languages, two rooms at once with nothing crossing, moderation, and SIP
callers reaching a room by number, keying its PIN as DTMF (RFC 4733, sent by baresip)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from clients import sip
from clients.conference import Participant
from clients.launch import running
from clients.speech import channel
from corpus import prompt_pcm16
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from tests.conftest import wait_for
from tests.test_conference import finals
from tests.test_restart import speech_wav

Stub = conference_pb2_grpc.ConferenceServiceStub


@pytest.fixture
def stub(orchestrator_address: str) -> Iterator[Stub]:
    with channel(orchestrator_address) as ch:
        yield Stub(ch)


def code(call: Callable[[], object]) -> grpc.StatusCode | None:
    """The status code call fails with; None if it succeeds."""
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return None


def refused_or_none(p: Participant) -> Callable[[], bool]:
    return lambda: p.error is not None


def test_room_resources(stub: Stub, orchestrator_address: str) -> None:
    room = conference_pb2.Conference(display_name="Board", pin="4321", allowed_language_codes=["en", "es"])
    made = stub.CreateConference(conference_pb2.CreateConferenceRequest(conference=room, conference_id="board"))
    try:
        assert made.name == "conferences/board" and made.pin_required and not made.pin
        assert list(made.allowed_language_codes) == ["en", "es"]
        got = stub.GetConference(conference_pb2.GetConferenceRequest(name="conferences/board"))
        assert got.display_name == "Board"
        numbered = stub.CreateConference(conference_pb2.CreateConferenceRequest(conference=conference_pb2.Conference()))
        assert numbered.name.removeprefix("conferences/").isdigit(), numbered.name

        names, token = [], ""
        while True:
            page = stub.ListConferences(conference_pb2.ListConferencesRequest(page_size=1, page_token=token))
            assert len(page.conferences) <= 1
            names += [c.name for c in page.conferences]
            if not (token := page.next_page_token):
                break
        assert names == sorted(names) and {"conferences/board", "conferences/default", numbered.name} <= set(names)

        create = conference_pb2.CreateConferenceRequest
        assert code(lambda: stub.CreateConference(create(conference=room, conference_id="board"))) == (
            grpc.StatusCode.ALREADY_EXISTS
        )
        assert code(lambda: stub.CreateConference(create(conference=room, conference_id="Bad_Id"))) == (
            grpc.StatusCode.INVALID_ARGUMENT
        )
        bad_pin = conference_pb2.Conference(pin="12")
        assert code(lambda: stub.CreateConference(create(conference=bad_pin))) == grpc.StatusCode.INVALID_ARGUMENT
        get = conference_pb2.GetConferenceRequest
        assert code(lambda: stub.GetConference(get(name="conferences/nope"))) == grpc.StatusCode.NOT_FOUND
        assert code(lambda: stub.GetConference(get(name="rooms/board"))) == grpc.StatusCode.INVALID_ARGUMENT
        delete = conference_pb2.DeleteConferenceRequest
        assert code(lambda: stub.DeleteConference(delete(name="conferences/default"))) == (
            grpc.StatusCode.FAILED_PRECONDITION
        )

        for pin, language, expected in (
            ("", "en", grpc.StatusCode.PERMISSION_DENIED),
            ("9999", "en", grpc.StatusCode.PERMISSION_DENIED),
            ("4321", "fr", grpc.StatusCode.INVALID_ARGUMENT),
        ):
            refused = Participant(orchestrator_address, "X", language, conference="conferences/board", pin=pin)
            assert wait_for(refused_or_none(refused), 10), f"join with pin {pin!r} in {language} was let in"
            assert refused.error is not None and refused.error.code() == expected, refused.error
            refused.leave()
        stub.DeleteConference(delete(name=numbered.name))
    finally:
        stub.DeleteConference(conference_pb2.DeleteConferenceRequest(name="conferences/board"))
    assert code(lambda: stub.GetConference(conference_pb2.GetConferenceRequest(name="conferences/board"))) == (
        grpc.StatusCode.NOT_FOUND
    )


def scraped(metrics_port: int, name: str, room: str) -> float | None:
    """One room's sample of a metric on the orchestrator's /metrics (None when it has none)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    prefix = f'{name}{{room="{room}"}} '
    return next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix)), None)


def test_two_rooms_keep_to_themselves_and_moderation(stub: Stub, orchestrator_address: str, metrics_port: int) -> None:
    for room_id in ("north", "south"):
        stub.CreateConference(
            conference_pb2.CreateConferenceRequest(conference=conference_pb2.Conference(), conference_id=room_id)
        )
    people: dict[str, tuple[Participant, Participant]] = {}
    try:
        for room_id in ("north", "south"):
            room = f"conferences/{room_id}"
            people[room_id] = (
                Participant(orchestrator_address, f"Ana {room_id}", "en", conference=room),
                Participant(orchestrator_address, f"Beto {room_id}", "es", conference=room),
            )
        everyone = [p for pair in people.values() for p in pair]
        assert wait_for(lambda: all(p.participant_id for p in everyone), 10), "joins not confirmed"
        (n_ana, n_beto), (s_ana, s_beto) = people["north"], people["south"]
        listed = stub.ListParticipants(conference_pb2.ListParticipantsRequest(parent="conferences/north"))
        assert {p.participant_id for p in listed.participants} == {n_ana.participant_id, n_beto.participant_id}
        assert all(p.name.startswith("conferences/north/participants/") for p in listed.participants)

        n_ana.say(prompt_pcm16("conf-getpin") + bytes(64000))
        s_ana.say(prompt_pcm16("vm-nobodyavail") + bytes(64000))
        assert wait_for(lambda: finals(n_beto, "es", n_ana.participant_id), 40), "no translation in north"
        assert wait_for(lambda: finals(s_beto, "es", s_ana.participant_id), 40), "no translation in south"
        time.sleep(2)
        north_speakers = {c.speaker_participant_id for c in n_beto.captions}
        south_speakers = {c.speaker_participant_id for c in s_beto.captions}
        assert north_speakers == {n_ana.participant_id}, f"north heard {north_speakers}"
        assert south_speakers == {s_ana.participant_id}, f"south heard {south_speakers}"
        for room_id in ("north", "south"):
            assert scraped(metrics_port, "lingua_participants", room_id) == 2, f"{room_id}'s participants"
            latency = "lingua_speech_end_to_first_audio_seconds_count"
            assert wait_for(lambda: (scraped(metrics_port, latency, room_id) or 0) >= 1, 20), room_id  # noqa: B023

        name = f"conferences/south/participants/{s_ana.participant_id}"
        muted = stub.MuteParticipant(conference_pb2.MuteParticipantRequest(name=name))
        assert muted.muted
        before = len(s_beto.captions)
        s_ana.say(prompt_pcm16("conf-onlyperson") + bytes(64000))
        assert wait_for(lambda: s_ana.idle(), 20)
        time.sleep(3)
        assert len(s_beto.captions) == before, "a muted speaker was heard"
        stub.UnmuteParticipant(conference_pb2.UnmuteParticipantRequest(name=name))
        s_ana.say(prompt_pcm16("conf-onlyperson") + bytes(64000))
        assert wait_for(lambda: len(finals(s_beto, "es", s_ana.participant_id)) == 2, 40), "unmuted, not heard"

        stub.RemoveParticipant(conference_pb2.RemoveParticipantRequest(name=name))
        listed = stub.ListParticipants(conference_pb2.ListParticipantsRequest(parent="conferences/south"))
        assert [p.participant_id for p in listed.participants] == [s_beto.participant_id]
        assert wait_for(lambda: not s_ana._thread.is_alive(), 10), "the removed participant's stream did not end"
        stub.DeleteConference(conference_pb2.DeleteConferenceRequest(name="conferences/north"))
        assert wait_for(lambda: not n_beto._thread.is_alive(), 10), "a deleted room's stream did not end"
        assert scraped(metrics_port, "lingua_participants", "north") is None, "a deleted room's metrics stayed"
    finally:
        for pair in people.values():
            for p in pair:
                p.leave()
        for room_id in ("north", "south"):
            name = f"conferences/{room_id}"
            if code(lambda name=name: stub.GetConference(conference_pb2.GetConferenceRequest(name=name))) is None:  # type: ignore[misc]
                stub.DeleteConference(conference_pb2.DeleteConferenceRequest(name=name))


def test_sip_callers_reach_rooms_by_number_and_pin(
    asterisk: Path, stt_address: str, mt_address: str, tts_address: str, tmp_path: Path
) -> None:
    stages = ["--stt", stt_address, "--mt", mt_address, "--tts", tts_address, "--metrics-port", "0"]
    said = speech_wav(tmp_path / "said.wav", 90)
    with running("orchestrator", *stages) as address, channel(address) as ch:
        stub = Stub(ch)
        create = conference_pb2.CreateConferenceRequest
        stub.CreateConference(create(conference=conference_pb2.Conference(pin="2468"), conference_id="4242"))
        stub.CreateConference(create(conference=conference_pb2.Conference(), conference_id="5353"))

        def sip_people(room: str) -> list[conference_pb2.Participant]:
            listed = stub.ListParticipants(conference_pb2.ListParticipantsRequest(parent=f"conferences/{room}"))
            return [p for p in listed.participants if p.transport == conference_pb2.TRANSPORT_SIP]

        open_listener = Participant(address, "Beto", "es", conference="conferences/5353")
        pin_listener = Participant(address, "Carla", "es", conference="conferences/4242", pin="2468")
        try:
            with sip.call("5353*1001", play_wav=said, duration_s=90, caller="ana") as ana:
                assert wait_for(lambda: [p.language_code for p in sip_people("5353")] == ["en"], 30), ana.log[-2000:]
                (caller,) = sip_people("5353")
                assert wait_for(lambda: finals(open_listener, "es", caller.participant_id), 60), "not translated"
                assert not pin_listener.captions, "a caption crossed into the other room"

                with sip.call("4242*1002", duration_s=60, caller="dora") as dora:
                    assert wait_for(lambda: dora.established, 30), dora.log[-2000:]
                    time.sleep(3)  # "please enter the conference pin"
                    dora.send_dtmf("2468#")
                    assert wait_for(lambda: [p.language_code for p in sip_people("4242")] == ["es"], 30), (
                        "the right PIN did not let the caller in"
                    )

                with sip.call("4242*1001", duration_s=60, caller="eve") as eve:
                    assert wait_for(lambda: eve.established, 30), eve.log[-2000:]
                    for _ in range(3):
                        time.sleep(3)
                        eve.send_dtmf("1111#")
                    assert not sip_people("4242"), "a caller with a wrong PIN was let in"
                    assert wait_for(eve.ended, 40), "three wrong PINs did not hang up"

                with sip.call("9999*1001", duration_s=30, caller="fred") as fred:
                    assert wait_for(fred.ended, 30), "an unknown room did not end the call"
                    assert fred.established, "the unknown room was not answered with a prompt"
                assert not ana.ended()
        finally:
            open_listener.leave()
            pin_listener.leave()
