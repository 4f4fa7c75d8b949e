"""The shared serving loop (common.server): SIGTERM drains in-flight streams, then exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from clients.launch import REPO, wait_serving
from clients.speech import channel, linear16
from corpus import prompt_pcm16
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc


def test_sigterm_drains_open_stream_then_exits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        [sys.executable, "-m", "profile_server", "--port", "0", "--data-dir", str(tmp_path), "--grace-seconds", "20"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    port = next(int(line.split()[1]) for line in proc.stdout if line.startswith("LISTENING "))
    address = f"127.0.0.1:{port}"
    wait_serving(address, deadline=time.monotonic() + 60)
    samples = [prompt_pcm16(n) for n in ("auth-incorrect", "conf-onlyperson", "pbx-invalid")]
    first_sent = threading.Event()

    def requests() -> Iterator[profile_pb2.EnrollRequest]:
        yield profile_pb2.EnrollRequest(metadata=profile_pb2.EnrollMetadata(profile_id="drain", format=linear16()))
        yield profile_pb2.EnrollRequest(sample=samples[0])
        first_sent.set()
        time.sleep(1.5)  # SIGTERM lands while this stream is open
        for sample in samples[1:]:
            yield profile_pb2.EnrollRequest(sample=sample)

    result: list[profile_pb2.EnrollResponse] = []
    with channel(address) as ch:
        stub = profile_pb2_grpc.VoiceProfileServiceStub(ch)
        caller = threading.Thread(target=lambda: result.append(stub.Enroll(requests(), timeout=60)))
        caller.start()
        assert first_sent.wait(30)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(grpc.RpcError):
            stub.GetProfile(profile_pb2.GetProfileRequest(profile_id="drain"), timeout=5)
        caller.join(60)
    assert result and result[0].profile.sample_count == 3, "the open stream was not drained"
    assert proc.wait(30) == 0
    log = proc.stdout.read()
    assert "stopped" in log
