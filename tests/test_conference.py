"""The conference over Conference.Join: an English speaker heard by a Spanish listener.

Real processes on real sockets: the four servers, the orchestrator, and two
gRPC participants sending and receiving 20 ms frames in real time.
"""

from __future__ import annotations

import time
import urllib.request

import grpc
import numpy as np
import pytest

from clients.conference import Participant
from clients.speech import channel, transcribe
from corpus import prompt_pcm16, transcripts, wer
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from tests.conftest import wait_for

PROMPTS = ["conf-getpin", "vm-nobodyavail"]


def finals(p: Participant, language: str, speaker: str) -> list[str]:
    return [
        c.text for c in p.captions if c.is_final and c.language_code == language and c.speaker_participant_id == speaker
    ]


@pytest.fixture(scope="module")
def call(orchestrator_address: str):  # type: ignore[no-untyped-def]
    """Ana speaks English, Beto listens in Spanish; both stay until the translations have played."""
    beto = Participant(orchestrator_address, "Beto", "es")
    ana = Participant(orchestrator_address, "Ana", "en")
    assert wait_for(lambda: ana.participant_id and beto.participant_id, 10), "join not confirmed"
    for name in PROMPTS:
        ana.say(prompt_pcm16(name) + bytes(32000 * 2))
    assert wait_for(ana.idle, 60)
    expected = len(PROMPTS)
    wait_for(lambda: len(finals(beto, "es", ana.participant_id)) >= expected, 30)
    time.sleep(6)
    yield ana, beto
    ana.leave()
    beto.leave()


def test_listener_hears_the_translation(call, stt_address: str) -> None:  # type: ignore[no-untyped-def]
    ana, beto = call
    assert ana.error is None and beto.error is None, (ana.error, beto.error)
    english = finals(ana, "en", ana.participant_id)
    spanish = finals(beto, "es", ana.participant_id)
    print("Ana said:", english, "\nBeto was told:", spanish)
    assert len(spanish) >= len(PROMPTS), beto.captions
    reference = " ".join(transcripts("en")[n] for n in PROMPTS)
    assert wer(reference, " ".join(english)) < 0.3
    recording = beto.recording()
    heard = transcribe(stt_address, recording, "es").text
    error = wer(" ".join(spanish), heard)
    print(f"Beto heard: {heard!r} (WER against the translation {error:.2f})")
    assert error <= 0.5


def test_same_language_listener_gets_no_translation(call) -> None:  # type: ignore[no-untyped-def]
    ana, _ = call
    assert not finals(ana, "es", ana.participant_id), "a speaker must not be sent their own translation"
    frames = np.frombuffer(ana.recording(), dtype="<i2")
    assert len(frames) > 0 and np.abs(frames).max() < 500, "Ana should hear silence (nobody else spoke)"


def test_participants_captions_and_metrics(call, orchestrator_address: str, metrics_port: int) -> None:  # type: ignore[no-untyped-def]
    with channel(orchestrator_address) as ch:
        stub = conference_pb2_grpc.ConferenceServiceStub(ch)
        people = stub.ListParticipants(conference_pb2.ListParticipantsRequest()).participants
        assert {(p.display_name, p.language_code, p.transport) for p in people} >= {
            ("Ana", "en", conference_pb2.TRANSPORT_GRPC),
            ("Beto", "es", conference_pb2.TRANSPORT_GRPC),
        }
        got = stub.GetMetrics(conference_pb2.GetMetricsRequest())
    latencies = {m.name: m for m in got.latencies}
    for name in ("stt_final", "mt", "tts_first_audio", "speech_end_to_first_audio"):
        assert latencies[name].count >= 1, name
    e2e = latencies["speech_end_to_first_audio"]
    print(f"end of speech -> first audio: p50 {e2e.p50_ms:.0f} ms, p95 {e2e.p95_ms:.0f} ms over {e2e.count}")
    assert got.tick_cpu_p50_us > 0
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    assert "lingua_speech_end_to_first_audio_seconds_count" in text
    assert "lingua_tick_seconds_bucket" in text


def test_join_rejects_bad_input(orchestrator_address: str) -> None:
    with channel(orchestrator_address) as ch:
        stub = conference_pb2_grpc.ConferenceServiceStub(ch)
        cases = [
            ([conference_pb2.JoinRequest(audio=b"\0\0")], "first message must be config"),
            ([conference_pb2.JoinRequest(config=conference_pb2.JoinConfig(display_name="x"))], "language_code"),
            (
                [
                    conference_pb2.JoinRequest(config=conference_pb2.JoinConfig(language_code="en")),
                    conference_pb2.JoinRequest(audio=b"\0\0\0"),
                ],
                "even byte count",
            ),
            ([conference_pb2.JoinRequest(config=conference_pb2.JoinConfig(language_code="xx"))], "'xx' is not served"),
        ]
        for requests, message in cases:
            with pytest.raises(grpc.RpcError) as info:
                list(stub.Join(iter(requests), timeout=10))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert message in info.value.details()
    assert "use one of: " in info.value.details() and "en, es" in info.value.details()
