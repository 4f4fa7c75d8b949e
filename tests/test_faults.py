"""Faults on real processes, each ML stage in turn: its server is killed (SIGKILL) or stalled
(SIGSTOP) at the end of an utterance, under a supervisor that restarts it (`common.supervise`),
alone or with a second server to fail over to. Nothing the speaker said is lost, the call
goes on, and the outage shows in metrics and, when every server is down, in the Join stream
(and, for a SIP caller, as a spoken "one moment please").

`pytest -s tests/test_faults.py` prints how long after the fault the listener heard the
translation again (the figures in docs/security.md).
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients import sip
from clients.conference import Participant
from clients.launch import running
from common.ports import free_port
from corpus import prompt_pcm16
from tests.conftest import wait_for
from tests.processes import kill, listener_pid
from tests.test_conference import finals
from tests.test_restart import heard, sip_participants, speech_wav

PROMPTS = ("conf-getpin", "vm-nobodyavail", "conf-onlyperson")
RATE_BYTES = 32000


def metric(metrics_port: int, name: str, stage: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    prefix = f'{name}{{stage="{stage}"}}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


@dataclass
class Faulty:
    """The stage under test: its servers' ports (the first is the one hurt) and the orchestrator."""

    stage: str
    ports: list[int]
    orchestrator: str
    metrics_port: int


@pytest.fixture
def faulty(
    request: pytest.FixtureRequest, stt_address: str, mt_address: str, tts_address: str, profile_address: str
) -> Iterator[Faulty]:
    stage, replicas = request.param
    servers = {"stt": ["stt_server"], "mt": ["mt_server"], "tts": ["tts_server", "--profile-server", profile_address]}
    addresses = {"stt": stt_address, "mt": mt_address, "tts": tts_address}
    ports = [free_port() for _ in range(replicas)]
    metrics_port = free_port()
    with ExitStack() as stack:
        for port in ports:
            module, *flags = servers[stage]
            stack.enter_context(running("common.supervise", "--port", str(port), module, *flags))
        addresses[stage] = ",".join(f"127.0.0.1:{port}" for port in ports)
        args = ["--no-ari", *(f"--{name}={address}" for name, address in addresses.items())]
        orchestrator = stack.enter_context(running("orchestrator", *args, "--metrics-port", str(metrics_port)))
        yield Faulty(stage, ports, orchestrator, metrics_port)


def quiet(listener: Participant, seconds: float = 1.0) -> bool:
    return listener.first_sound_after(time.perf_counter() - seconds) is None


def say(speaker: Participant, prompt: str, pause_s: float) -> float:
    """Queue a prompt and a pause; the perf_counter time its speech ends."""
    pcm = prompt_pcm16(prompt)
    said = len(speaker.speech_sent_at)
    speaker.say(pcm + bytes(int(pause_s * RATE_BYTES)))
    assert wait_for(lambda: len(speaker.speech_sent_at) > said, 5), "the speech was never sent"
    begin, _ = speaker.speech_sent_at[-1]
    return begin + len(pcm) / RATE_BYTES


SCENARIOS = [
    pytest.param((stage, replicas), fault, id=f"{stage}-{fault}")
    for stage in ("stt", "mt", "tts")
    for replicas, fault in ((1, "restart"), (2, "failover"), (2, "stall"))
]


@pytest.mark.parametrize(("faulty", "fault"), SCENARIOS, indirect=["faulty"])
def test_fault_mid_call_loses_nothing(faulty: Faulty, fault: str) -> None:
    ana = Participant(faulty.orchestrator, "Ana", "en")
    beto = Participant(faulty.orchestrator, "Beto", "es")
    stopped: int | None = None
    try:
        assert wait_for(lambda: ana.participant_id and beto.participant_id, 10), "join not confirmed"
        heard = lambda: finals(beto, "es", ana.participant_id)  # noqa: E731
        end = say(ana, PROMPTS[0], 2.0)
        assert wait_for(lambda: len(heard()) == 1, 30), "no translation before the fault"
        assert wait_for(lambda: beto.first_sound_after(end), 30), "the first translation was never heard"
        baseline = (beto.first_sound_after(end) or 0.0) - end
        assert wait_for(lambda: quiet(beto), 30), "the first translation never finished playing"

        end = say(ana, PROMPTS[1], 3.0)
        time.sleep(max(0.0, end - time.perf_counter()))
        hurt = time.perf_counter()
        if fault == "stall":
            stopped = listener_pid(faulty.ports[0])
            os.kill(stopped, signal.SIGSTOP)
        else:
            kill(faulty.ports[0])
        assert wait_for(lambda: len(heard()) == 2, 60), f"the utterance said as {faulty.stage} {fault}ed was lost"
        assert wait_for(lambda: beto.first_sound_after(hurt), 30), "the translation was never heard"
        resumed = (beto.first_sound_after(hurt) or 0.0) - hurt
        say(ana, PROMPTS[2], 2.0)
        assert wait_for(lambda: len(heard()) == 3, 60), "the utterance after the fault was lost"

        assert ana.error is None and beto.error is None, "a call dropped"
        assert all(heard()), f"an empty translation: {heard()}"
        assert metric(faulty.metrics_port, "lingua_stage_errors_total", faulty.stage) > 0, "no error counted"
        down = metric(faulty.metrics_port, "lingua_stage_down_total", faulty.stage)
        told = [(s.stage, s.available) for s in beto.statuses]
        if len(faulty.ports) == 1:
            assert down == 1, f"lingua_stage_down_total{{stage={faulty.stage}}} is {down}"
            assert told == [(faulty.stage, False), (faulty.stage, True)], f"participants were told {told}"
        else:
            assert down == 0 and told == [], f"failover is not an outage: down {down}, told {told}"
        print(
            f"\n{faulty.stage} {fault}: translation heard {resumed:.2f} s after the fault "
            f"(normal end of speech -> first audio {baseline:.2f} s)"
        )
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGCONT)
        ana.leave()
        beto.leave()


def test_sip_caller_hears_when_a_stage_is_down(
    asterisk: Path, stt_address: str, tts_address: str, tmp_path: Path
) -> None:
    """A SIP caller sees no Join events: when every MT server is down they hear "one moment please".

    The MT server is started again only once the outage has been seen: a restart
    faster than the speaker's next sentence would be no outage at all.
    """
    port = free_port()
    recording = tmp_path / "heard.wav"
    said = speech_wav(tmp_path / "said.wav", 120)
    with ExitStack() as stack:
        stack.enter_context(running("mt_server", "--port", str(port)))
        stages = ["--stt", stt_address, "--mt", f"127.0.0.1:{port}", "--tts", tts_address, "--metrics-port", "0"]
        address = stack.enter_context(running("orchestrator", *stages))
        beto = Participant(address, "Beto", "es")
        try:
            ana = stack.enter_context(sip.call("1001", play_wav=said, record_wav=recording, duration_s=120))
            assert wait_for(lambda: len(sip_participants(address)) == 1, 30), ana.log[-2000:]
            (caller,) = sip_participants(address)
            assert wait_for(lambda: finals(beto, "es", caller.participant_id), 60), "no translation before the kill"
            kill(port)
            assert wait_for(lambda: [s.available for s in beto.statuses] == [False], 60), beto.statuses
            stack.enter_context(running("mt_server", "--port", str(port)))
            assert wait_for(lambda: [s.available for s in beto.statuses] == [False, True], 60), beto.statuses
            assert wait_for(lambda: len(finals(beto, "es", caller.participant_id)) >= 3, 60), "no translation after"
            ana.hangup()
        finally:
            beto.leave()
    text = heard(stt_address, recording)
    print(f"the caller heard: {text!r}")
    assert "moment" in text, "the caller was not told that translation is delayed"
