"""The scale-out design on local processes: two replicas of each ML server, two orchestrator
shards (`--shard K/2`), four rooms placed by the shard rule (`orchestrator.rooms.shard_of`),
each with a speaker and a listener. One replica of every stage is killed mid-call; every
room's calls go on through the other replica. Each shard lists the replicas in a different
order, so the shards' streams are spread over both replicas while both are up."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack

import grpc
import pytest

from clients.conference import Participant
from clients.launch import running
from clients.speech import channel
from corpus import prompt_pcm16
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from orchestrator.rooms import shard_of
from tests.conftest import wait_for
from tests.test_conference import finals
from tests.test_faults import free_port, kill

ROOMS = ("4000", "4001", "4002", "4003")


def translated(speaker: Participant, listener: Participant, count: int) -> Callable[[], bool]:
    return lambda: len(finals(listener, "es", speaker.participant_id)) >= count


def test_two_shards_two_replicas_survive_losing_one_of_each(profile_address: str) -> None:
    servers = {"stt": ["stt_server"], "mt": ["mt_server"], "tts": ["tts_server", "--profile-server", profile_address]}
    ports = {stage: [free_port(), free_port()] for stage in servers}
    with ExitStack() as stack:
        for stage, (module, *flags) in servers.items():
            for port in ports[stage]:
                stack.enter_context(running("common.supervise", "--port", str(port), module, *flags))
        shards = []
        for shard in range(2):
            order = ports if shard == 0 else {stage: list(reversed(p)) for stage, p in ports.items()}
            lists = [f"--{stage}=" + ",".join(f"127.0.0.1:{p}" for p in order[stage]) for stage in servers]
            shards.append(
                stack.enter_context(
                    running("orchestrator", "--no-ari", "--metrics-port", "0", "--shard", f"{shard}/2", *lists)
                )
            )

        for room in ROOMS:
            owner = shards[shard_of(room, 2)]
            with channel(owner) as ch:
                stub = conference_pb2_grpc.ConferenceServiceStub(ch)
                request = conference_pb2.CreateConferenceRequest(
                    conference=conference_pb2.Conference(), conference_id=room
                )
                stub.CreateConference(request)
        with channel(shards[0]) as ch, pytest.raises(grpc.RpcError) as wrong:
            conference_pb2_grpc.ConferenceServiceStub(ch).CreateConference(
                conference_pb2.CreateConferenceRequest(conference=conference_pb2.Conference(), conference_id="4005")
            )
        assert wrong.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "shard 1" in str(wrong.value.details())

        people = {
            room: (
                Participant(shards[shard_of(room, 2)], f"Ana {room}", "en", conference=f"conferences/{room}"),
                Participant(shards[shard_of(room, 2)], f"Beto {room}", "es", conference=f"conferences/{room}"),
            )
            for room in ROOMS
        }
        try:
            assert wait_for(lambda: all(a.participant_id and b.participant_id for a, b in people.values()), 20)
            for ana, _ in people.values():
                ana.say(prompt_pcm16("conf-getpin") + bytes(96000))
            for room, (ana, beto) in people.items():
                assert wait_for(translated(ana, beto, 1), 90), f"room {room}: no translation"
            for stage in servers:
                kill(ports[stage][0])
            killed = time.monotonic()
            for ana, _ in people.values():
                ana.say(prompt_pcm16("vm-nobodyavail") + bytes(96000))
            for room, (ana, beto) in people.items():
                assert wait_for(translated(ana, beto, 2), 90), f"room {room}: the call did not go on after the kill"
                assert ana.error is None and beto.error is None, f"room {room}: a call dropped"
                crossed = {c.speaker_participant_id for c in beto.captions} - {ana.participant_id}
                assert not crossed, f"room {room} heard other rooms' speakers {crossed}"
            print(f"\nall 4 rooms translated again {time.monotonic() - killed:.1f} s after the kills")
        finally:
            for ana, beto in people.values():
                ana.leave()
                beto.leave()
