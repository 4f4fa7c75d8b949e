"""Faults on real processes: the MT server is killed (SIGKILL) mid-call and restarted on the
same port; what the speaker said while it was down is translated late, not lost."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack

import psutil
import pytest

from clients.conference import Participant
from clients.launch import running
from corpus import prompt_pcm16
from tests.conftest import wait_for
from tests.test_conference import finals


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stack(stt_address: str, tts_address: str) -> Iterator[tuple[ExitStack, int, str, int]]:
    """(exit stack, MT port, orchestrator address, metrics port): the MT server is the test's to kill."""
    port, metrics = free_port(), free_port()
    with ExitStack() as stack:
        stack.enter_context(running("mt_server", "--port", str(port)))
        args = ["--no-ari", "--stt", stt_address, "--mt", f"127.0.0.1:{port}", "--tts", tts_address]
        address = stack.enter_context(running("orchestrator", *args, "--metrics-port", str(metrics)))
        yield stack, port, address, metrics


def mt_errors(metrics_port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    prefix = 'lingua_stage_errors_total{stage="mt"}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def kill(port: int) -> None:
    """SIGKILL the process listening on port (no drain, no goodbye)."""
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            process = psutil.Process(conn.pid)
            process.kill()
            process.wait(10)
            return
    raise LookupError(f"nothing listens on {port}")


def test_mt_killed_mid_call_translates_late_not_lost(stack: tuple[ExitStack, int, str, int]) -> None:
    exits, port, address, metrics = stack
    beto, ana = Participant(address, "Beto", "es"), Participant(address, "Ana", "en")
    try:
        assert wait_for(lambda: ana.participant_id and beto.participant_id, 10), "join not confirmed"
        ana.say(prompt_pcm16("conf-getpin") + bytes(64000))
        assert wait_for(lambda: len(finals(beto, "es", ana.participant_id)) == 1, 30), "no translation before the kill"
        kill(port)
        ana.say(prompt_pcm16("vm-nobodyavail") + bytes(64000))
        assert wait_for(lambda: ana.idle() and mt_errors(metrics) > 0, 30), "the outage never showed in metrics"
        assert len(finals(beto, "es", ana.participant_id)) == 1
        exits.enter_context(running("mt_server", "--port", str(port)))
        back = time.monotonic()
        assert wait_for(lambda: len(finals(beto, "es", ana.participant_id)) == 2, 30), "the outage's utterance was lost"
        print(f"translated {time.monotonic() - back:.2f} s after the restarted MT server reported SERVING")
    finally:
        ana.leave()
        beto.leave()
