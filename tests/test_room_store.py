"""Rooms survive a restart of their orchestrator (`--rooms-file`, as each shard of the
StatefulSet keeps them on its volume): the real process is stopped and started again."""

from __future__ import annotations

import stat
from pathlib import Path

import grpc
import pytest

from clients.conference import Participant
from clients.launch import failed_start, running
from clients.speech import channel
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from tests.conftest import wait_for

Stub = conference_pb2_grpc.ConferenceServiceStub
ARGS = ("--no-ari", "--metrics-port", "0", "--stt", "127.0.0.1:1", "--mt", "127.0.0.1:1", "--tts", "127.0.0.1:1")


def rooms(address: str) -> dict[str, conference_pb2.Conference]:
    with channel(address) as ch:
        listed = Stub(ch).ListConferences(conference_pb2.ListConferencesRequest())
    return {c.name: c for c in listed.conferences}


def test_rooms_are_back_after_a_restart(tmp_path: Path) -> None:
    saved = tmp_path / "shard-0" / "rooms.json"
    with running("orchestrator", *ARGS, "--rooms-file", str(saved)) as address, channel(address) as ch:
        stub = Stub(ch)
        room = conference_pb2.Conference(display_name="Board", pin="2468", allowed_language_codes=["en", "es"])
        made = stub.CreateConference(conference_pb2.CreateConferenceRequest(conference=room, conference_id="4242"))
        stub.CreateConference(conference_pb2.CreateConferenceRequest(conference=room, conference_id="gone"))
        stub.DeleteConference(conference_pb2.DeleteConferenceRequest(name="conferences/gone"))
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600, "the file holds PINs: owner-only"
    assert "2468" in saved.read_text()

    with running("orchestrator", *ARGS, "--rooms-file", str(saved)) as address:
        back = rooms(address)
        assert sorted(back) == ["conferences/4242", "conferences/default"]
        kept = back["conferences/4242"]
        assert (kept.display_name, kept.pin_required) == ("Board", True)
        assert list(kept.allowed_language_codes) == ["en", "es"]
        assert kept.create_time == made.create_time
        wrong = Participant(address, "Eve", "es", conference="conferences/4242", pin="1111")
        right = Participant(address, "Ana", "es", conference="conferences/4242", pin="2468")
        try:
            assert wait_for(lambda: wrong.error is not None, 10)
            assert isinstance(wrong.error, grpc.RpcError) and wrong.error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert wait_for(lambda: right.participant_id, 10), right.error
        finally:
            wrong.leave()
            right.leave()

    with running("orchestrator", *ARGS) as address:
        assert sorted(rooms(address)) == ["conferences/default"], "without --rooms-file nothing is kept"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "cannot read the saved rooms"),
        ('{"rooms": [{"id": "4242"}]}', "cannot read the saved rooms"),
        (
            '{"rooms": [{"id": "4243", "display_name": "", "pin": "", "languages": [], "created": 0}]}',
            "belongs on orchestrator shard 1 of 2",
        ),
    ],
)
def test_a_bad_rooms_file_stops_the_start_naming_it(tmp_path: Path, content: str, says: str) -> None:
    saved = tmp_path / "rooms.json"
    saved.write_text(content)
    output = failed_start("orchestrator", *ARGS, "--shard", "0/2", "--rooms-file", str(saved))
    assert str(saved) in output and says in output, output[-2000:]
