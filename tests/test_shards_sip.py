"""Two orchestrator shards on one real Asterisk, as deployed (docs/deploy.md): the dialplan
rewritten by deploy/asterisk/entrypoint sends each dialled room to its shard's Stasis app
(`lingua-K`), SIP callers (baresip) in a room on each shard are translated, and one shard
SIGKILLed and started again takes its caller back (its rooms from --rooms-file) while the
other shard's call, its bridge and its media, go on untouched."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from clients import sip
from clients.conference import Participant
from clients.launch import REPO, asterisk_script, running
from clients.speech import channel
from common.ports import free_port
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from orchestrator.rooms import shard_of
from tests.conftest import wait_for
from tests.processes import kill
from tests.test_asterisk import Ari
from tests.test_conference import finals
from tests.test_restart import speech_wav

ROOMS = ("4000", "4001")  # shard 0 and shard 1 of 2


@contextmanager
def sharded_dialplan(asterisk: Path, shards: int) -> Iterator[None]:
    """Asterisk's dialplan as the Asterisk pod runs it for `shards` shards; the repo's again after."""
    conf = asterisk / "etc" / "extensions.conf"
    try:
        subprocess.run([str(REPO / "deploy/asterisk/entrypoint"), "shard-dialplan", str(conf), str(shards)], check=True)
        subprocess.run(
            ["bash", "-c", f'source {REPO}/asterisk/lib.sh && asterisk_bin -rx "dialplan reload"'], check=True
        )
        yield
    finally:
        asterisk_script("start")  # renders the repo's dialplan again and reloads it


def sip_in(address: str, room: str) -> list[conference_pb2.Participant]:
    with channel(address) as ch:
        listed = conference_pb2_grpc.ConferenceServiceStub(ch).ListParticipants(
            conference_pb2.ListParticipantsRequest(parent=f"conferences/{room}"), timeout=10
        )
    return [p for p in listed.participants if p.transport == conference_pb2.TRANSPORT_SIP]


def bridges(ari: Ari, app: str) -> list[str]:
    """The names of the app's call bridges in Asterisk."""
    return sorted(b["name"] for b in ari.ok("GET", "/bridges") if b["name"].startswith(f"{app}:"))


def translated(listener: Participant, speaker: str, more_than: int = 0) -> Callable[[], bool]:
    return lambda: len(finals(listener, "es", speaker)) > more_than


def test_two_shards_share_one_asterisk(
    asterisk: Path, stt_address: str, mt_address: str, tts_address: str, tmp_path: Path
) -> None:
    assert [shard_of(room, 2) for room in ROOMS] == [0, 1]
    env = sip.read_env(asterisk / "ari.env")
    ari = Ari(env["ARI_URL"], env["ARI_USER"], env["ARI_PASSWORD"], env["ARI_APP"])
    said = speech_wav(tmp_path / "said.wav", 150)
    ports = [free_port(), free_port()]
    stages = ["--stt", stt_address, "--mt", mt_address, "--tts", tts_address, "--metrics-port", "0"]

    def shard(k: int) -> list[str]:
        ari_env = tmp_path / f"ari-{k}.env"
        ari_env.write_text((asterisk / "ari.env").read_text().replace("ARI_APP=lingua", f"ARI_APP=lingua-{k}"))
        own = ["--port", str(ports[k]), "--shard", f"{k}/2", "--ari-env", str(ari_env)]
        return [*stages, *own, "--rooms-file", str(tmp_path / f"rooms-{k}.json")]

    with sharded_dialplan(asterisk, 2), ExitStack() as stack:
        second = ExitStack()
        stack.enter_context(second)
        shards = [
            stack.enter_context(running("orchestrator", *shard(0))),
            second.enter_context(running("orchestrator", *shard(1))),
        ]
        for address, room in zip(shards, ROOMS, strict=True):
            with channel(address) as ch:
                conference_pb2_grpc.ConferenceServiceStub(ch).CreateConference(
                    conference_pb2.CreateConferenceRequest(conference=conference_pb2.Conference(), conference_id=room)
                )
        listeners = [
            Participant(address, f"Beto {room}", "es", conference=f"conferences/{room}")
            for address, room in zip(shards, ROOMS, strict=True)
        ]
        for listener in listeners:
            stack.callback(listener.leave)
        callers = [
            stack.enter_context(sip.call(f"{room}*1001", play_wav=said, duration_s=150, caller=who))
            for room, who in zip(ROOMS, ("ana", "bob"), strict=True)
        ]
        ids = []
        for address, room, caller, listener in zip(shards, ROOMS, callers, listeners, strict=True):
            assert wait_for(lambda: len(sip_in(address, room)) == 1, 30), caller.log[-2000:]  # noqa: B023
            ids.append(sip_in(address, room)[0].participant_id)
            assert wait_for(translated(listener, ids[-1]), 60), f"room {room} was not translated"
        kept = bridges(ari, "lingua-0")
        assert len(kept) == 1 and len(bridges(ari, "lingua-1")) == 1, "each shard bridges its own caller"

        kill(ports[1])
        second.close()
        shards[1] = second.enter_context(running("orchestrator", *shard(1)))
        assert wait_for(lambda: len(sip_in(shards[1], ROOMS[1])) == 1, 60), "shard 1 did not take its caller back"
        assert bridges(ari, "lingua-0") == kept, "the restarted shard touched the other shard's bridge"
        heard = len(finals(listeners[0], "es", ids[0]))
        assert wait_for(translated(listeners[0], ids[0], heard + 1), 60), "shard 0's call stopped"
        (back,) = sip_in(shards[1], ROOMS[1])
        again = Participant(shards[1], "Carla", "es", conference=f"conferences/{ROOMS[1]}")
        stack.callback(again.leave)
        assert wait_for(translated(again, back.participant_id), 60), "shard 1's caller was not translated again"
        assert not any(c.ended() for c in callers), "a call dropped"
        assert not {c.speaker_participant_id for c in listeners[0].captions} - {ids[0]}, "captions crossed shards"
