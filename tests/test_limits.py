"""The orchestrator's participant limit on real processes: past --max-participants a Join is
refused with RESOURCE_EXHAUSTED, and a SIP caller (baresip through Asterisk) hears "That
conference is full" and is hung up, while the admitted caller stays."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from clients import sip
from clients.launch import running
from clients.speech import channel
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from tests.conftest import wait_for


def participants(address: str) -> list[conference_pb2.Participant]:
    with channel(address) as ch:
        stub = conference_pb2_grpc.ConferenceServiceStub(ch)
        return list(stub.ListParticipants(conference_pb2.ListParticipantsRequest(), timeout=10).participants)


def join_requests(stop: threading.Event) -> Iterator[conference_pb2.JoinRequest]:
    yield conference_pb2.JoinRequest(config=conference_pb2.JoinConfig(language_code="en", display_name="first"))
    while not stop.wait(0.02):
        yield conference_pb2.JoinRequest(audio=bytes(640))


def test_join_past_the_limit_is_resource_exhausted(stt_address: str, mt_address: str, tts_address: str) -> None:
    stages = ["--stt", stt_address, "--mt", mt_address, "--tts", tts_address, "--no-ari"]
    with running("orchestrator", *stages, "--max-participants", "1", "--metrics-port", "0") as address:
        stop = threading.Event()
        with channel(address) as ch:
            first = conference_pb2_grpc.ConferenceServiceStub(ch).Join(join_requests(stop))
            assert next(first).HasField("joined")
            with pytest.raises(grpc.RpcError) as caught:
                second = conference_pb2.JoinRequest(config=conference_pb2.JoinConfig(language_code="es"))
                list(conference_pb2_grpc.ConferenceServiceStub(ch).Join(iter([second]), timeout=10))
            stop.set()
            first.cancel()
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "the conference is full: 1 participants" in (caught.value.details() or "")


def test_sip_caller_past_the_limit_hears_why_and_is_hung_up(
    asterisk: Path, stt_address: str, mt_address: str, tts_address: str, tmp_path: Path
) -> None:
    stages = ["--stt", stt_address, "--mt", mt_address, "--tts", tts_address, "--metrics-port", "0"]
    with (
        running("orchestrator", *stages, "--max-participants", "1") as address,
        sip.call("1001", duration_s=60, caller="ana") as admitted,
    ):
        assert wait_for(lambda: len(participants(address)) == 1, 30), admitted.log[-2000:]
        heard = tmp_path / "refused.wav"
        refused = sip.call("1002", record_wav=heard, duration_s=60, caller="beto")
        try:
            refused.wait(40)  # the far end hangs up long before the caller's own 60 s
        finally:
            refused.close()
        assert refused.established, refused.log[-2000:]
        recording, rate = sip.read_wav(heard)
        speech = np.abs(recording.astype(np.float32)) > 500
        assert speech.sum() / rate > 0.5, "the caller heard the prompt, not silence"
        assert [p.language_code for p in participants(address)] == ["en"], "the admitted caller stays"
        assert not admitted.ended()
