"""The scale-out design on local processes: two replicas of each ML server behind the
client-side balancer, two orchestrator shards (`--shard K/2`), four rooms placed by the
shard rule (`orchestrator.rooms.shard_of`), each with a speaker and a listener.

As in Kubernetes, each stage is one name that resolves to both replicas (a headless
Service's DNS; here tests/dns.py, with the replicas on 127.0.0.1 and 127.0.0.2), and every
channel balances its streams over them (`round_robin`, common.security). One replica of
every stage is killed mid-call; every room's calls go on through the other replica, and
no shard calls that an outage."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack

import grpc
import psutil
import pytest

from clients.conference import Participant
from clients.launch import running
from clients.speech import channel
from common.ports import free_port
from corpus import prompt_pcm16
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from orchestrator.rooms import shard_of
from tests.conftest import wait_for
from tests.dns import Resolver
from tests.processes import kill, listener_pid
from tests.test_conference import finals
from tests.test_faults import metric

ROOMS = ("4000", "4001", "4002", "4003")
REPLICAS = ("127.0.0.1", "127.0.0.2")


def translated(speaker: Participant, listener: Participant, count: int) -> Callable[[], bool]:
    return lambda: len(finals(listener, "es", speaker.participant_id)) >= count


def connected(pid: int, host: str, port: int) -> bool:
    """Whether process pid has a connection open to host:port (gRPC's sockets are dual-stack: ::ffff:host)."""
    return any(
        c.raddr and (c.raddr.ip.removeprefix("::ffff:"), c.raddr.port) == (host, port)
        for c in psutil.Process(pid).net_connections()
    )


def test_two_shards_two_replicas_survive_losing_one_of_each(profile_address: str) -> None:
    servers = {"stt": ["stt_server"], "mt": ["mt_server"], "tts": ["tts_server", "--profile-server", profile_address]}
    ports = {stage: free_port() for stage in servers}
    names = {stage: f"{stage}.lingua.svc.test" for stage in servers}
    with Resolver({names[stage]: list(REPLICAS) for stage in servers}) as dns, ExitStack() as stack:
        for stage, (module, *flags) in servers.items():
            for host in REPLICAS:
                stack.enter_context(running(module, "--host", host, "--port", str(ports[stage]), *flags))
        targets = [f"--{stage}={dns.target(names[stage], ports[stage])}" for stage in servers]
        metrics_ports = [free_port(), free_port()]
        shards = [
            stack.enter_context(
                running(
                    "orchestrator",
                    "--no-ari",
                    "--metrics-port",
                    str(metrics_ports[shard]),
                    "--shard",
                    f"{shard}/2",
                    *targets,
                )
            )
            for shard in range(2)
        ]

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
            for address in shards:
                pid = listener_pid(int(address.rsplit(":", 1)[1]))
                for stage in servers:
                    apart = [host for host in REPLICAS if not connected(pid, host, ports[stage])]
                    assert not apart, f"shard {address} balances {stage} without replica {apart}"
            for stage in servers:
                kill(ports[stage], REPLICAS[0])
            killed = time.monotonic()
            for ana, _ in people.values():
                ana.say(prompt_pcm16("vm-nobodyavail") + bytes(96000))
            for room, (ana, beto) in people.items():
                assert wait_for(translated(ana, beto, 2), 90), f"room {room}: the call did not go on after the kill"
                assert ana.error is None and beto.error is None, f"room {room}: a call dropped"
                crossed = {c.speaker_participant_id for c in beto.captions} - {ana.participant_id}
                assert not crossed, f"room {room} heard other rooms' speakers {crossed}"
            for stage in servers:
                downs = [metric(port, "lingua_stage_down_total", stage) for port in metrics_ports]
                assert downs == [0, 0], f"losing one {stage} replica was reported as an outage: {downs}"
            print(f"\nall 4 rooms translated again {time.monotonic() - killed:.1f} s after the kills")
        finally:
            for ana, beto in people.values():
                ana.leave()
                beto.leave()
