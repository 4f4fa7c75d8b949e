"""Restarts on real processes (Asterisk, the servers, orchestrators, baresip callers).

The orchestrator SIGKILLed mid-call and started again on the same port takes its SIP
caller back, who is translated again (and, over chan_websocket, heard "one moment
please" meanwhile rather than silence); callers of an orchestrator that stays down hear
why and are hung up; an Asterisk restart tells callers why they are dropped, leaves the
orchestrator no stale participants, and new calls work."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import numpy as np
import psutil
import pytest

from clients import sip
from clients.conference import Participant
from clients.launch import asterisk_script, running
from clients.speech import channel, transcribe
from common.ports import free_port
from corpus import prompt_pcm16
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from tests.conftest import wait_for
from tests.processes import kill
from tests.test_asterisk import Ari
from tests.test_conference import finals

Start = Callable[[int, str], AbstractContextManager[str]]


@pytest.fixture
def ari(asterisk: Path) -> Ari:
    env = sip.read_env(asterisk / "ari.env")
    return Ari(env["ARI_URL"], env["ARI_USER"], env["ARI_PASSWORD"], env["ARI_APP"])


@pytest.fixture
def start(stt_address: str, mt_address: str, tts_address: str) -> Start:
    """start(port, media): an orchestrator attached to Asterisk on that gRPC port (a context manager)."""
    stages = ["--stt", stt_address, "--mt", mt_address, "--tts", tts_address, "--metrics-port", "0"]
    return lambda port, media: running("orchestrator", *stages, "--port", str(port), "--media", media)


def sip_participants(address: str) -> list[conference_pb2.Participant]:
    with channel(address) as ch:
        listed = conference_pb2_grpc.ConferenceServiceStub(ch).ListParticipants(
            conference_pb2.ListParticipantsRequest(), timeout=10
        )
    return [p for p in listed.participants if p.transport == conference_pb2.TRANSPORT_SIP]


def assert_back_and_clean(address: str, ari: Ari) -> None:
    """After an Asterisk restart: no stale SIP participants, the orchestrator back on ARI, and a new call admitted."""
    assert wait_for(lambda: not sip_participants(address), 30), "stale SIP participants after the restart"
    assert wait_for(lambda: ari.request("GET", "/applications/lingua")[0] == 200, 30), "not back on ARI"
    with sip.call("1002", duration_s=60, caller="beto") as beto:
        spanish = wait_for(lambda: [p.language_code for p in sip_participants(address)] == ["es"], 30)
        assert spanish, beto.log[-2000:]


def speech_wav(path: Path, seconds: float) -> Path:
    """A caller who says a sentence every few seconds, for as long as the call lasts."""
    turn = prompt_pcm16("conf-getpin") + bytes(2 * 16000 * 3)
    sip.write_wav(path, np.frombuffer(turn * int(seconds * 32000 / len(turn) + 1), dtype="<i2"), 16000)
    return path


def heard(stt_address: str, path: Path) -> str:
    """What the caller heard (their recording, transcribed), in lower case."""
    recording, _ = sip.read_wav(path)
    return transcribe(stt_address, recording.astype("<i2").tobytes(), "en").text.lower()


@pytest.mark.parametrize("media", ["websocket", "rtp"])
def test_killed_orchestrator_restarted_takes_the_caller_back(
    asterisk: Path, start: Start, stt_address: str, media: str, tmp_path: Path
) -> None:
    port, recording = free_port(), tmp_path / "heard.wav"
    said = speech_wav(tmp_path / "said.wav", 180)
    with ExitStack() as calls:
        with start(port, media) as address:
            ana = calls.enter_context(
                sip.call("1001", play_wav=said, record_wav=recording, duration_s=180, caller="ana")
            )
            assert wait_for(lambda: len(sip_participants(address)) == 1, 30), ana.log[-2000:]
            kill(port)
            killed = time.monotonic()
        with start(port, media) as address:
            serving = time.monotonic()
            assert wait_for(lambda: len(sip_participants(address)) == 1, 60), "the caller was not taken back"
            back_at = time.monotonic()
            print(f"{media}: caller back {back_at - serving:.2f} s after the new orchestrator was SERVING", end="")
            print(f" ({back_at - killed:.2f} s after the kill)")
            (back,) = sip_participants(address)
            assert back.language_code == "en"
            beto = Participant(address, "Beto", "es")
            try:
                assert wait_for(lambda: finals(beto, "es", back.participant_id), 60), "no translation after the restart"
                assert wait_for(lambda: beto.first_sound_after(0) is not None, 30), "no translated audio"
            finally:
                beto.leave()
            assert not ana.ended()
        ana.hangup()
    if media == "websocket":  # over RTP the media channel outlives the orchestrator: silence until it is back
        text = heard(stt_address, recording)
        print(f"the caller heard: {text!r}")
        assert "moment" in text, "the caller did not hear 'one moment please' while the orchestrator was down"


def test_callers_of_an_orchestrator_that_stays_down_hear_why_and_are_hung_up(
    asterisk: Path, ari: Ari, start: Start, stt_address: str, tmp_path: Path
) -> None:
    port, recording = free_port(), tmp_path / "heard.wav"
    with (
        start(port, "websocket") as address,
        sip.call("1001", record_wav=recording, duration_s=120, caller="ana") as ana,
    ):
        assert wait_for(lambda: len(sip_participants(address)) == 1, 30), ana.log[-2000:]
        (caller,) = [c for c in ari.ok("GET", "/channels") if c["dialplan"]["app_data"].startswith("lingua,en,")]
        # Give up on the orchestrator after 3 tries rather than the dialplan's minute.
        ari.ok("POST", f"/channels/{caller['id']}/variable", variable="LINGUA_REJOIN_TRIES", value="3")
        kill(port)
        ana.wait(40)  # the far end hangs up long before the caller's own 120 s
    text = heard(stt_address, recording)
    print(f"the caller heard: {text!r}")
    assert ana.established
    assert "moment" in text and "later" in text, "the caller was not told to hold on, then to call again later"


@pytest.mark.parametrize("media", ["websocket", "rtp"])
def test_asterisk_restart_tells_callers_why_and_leaves_no_stale_participants(
    asterisk: Path, ari: Ari, start: Start, stt_address: str, media: str, tmp_path: Path
) -> None:
    recording = tmp_path / "heard.wav"
    with start(free_port(), media) as address:
        with sip.call("1001", record_wav=recording, duration_s=120, caller="ana") as ana:
            assert wait_for(lambda: len(sip_participants(address)) == 1, 30), ana.log[-2000:]
            asterisk_script("stop", timeout=60)
            try:
                ana.wait(10)  # hung up by Asterisk, not by the caller's own timer
            finally:
                asterisk_script("start")
        text = heard(stt_address, recording)
        print(f"the caller heard: {text!r}")
        assert "later" in text, "the caller was dropped without being told why"
        assert_back_and_clean(address, ari)


def test_asterisk_killed_and_restarted_leaves_no_stale_participants(asterisk: Path, ari: Ari, start: Start) -> None:
    # Over RTP nothing closes when Asterisk dies: only the reconnect can tell the orchestrator its calls are gone.
    with start(free_port(), "rtp") as address:
        with sip.call("1001", duration_s=120, caller="ana") as ana:
            assert wait_for(lambda: len(sip_participants(address)) == 1, 30), ana.log[-2000:]
            process = psutil.Process(int((asterisk / "asterisk.pid").read_text()))
            process.kill()
            process.wait(10)
            asterisk_script("start")
        assert_back_and_clean(address, ari)
