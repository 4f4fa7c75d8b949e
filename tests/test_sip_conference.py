"""End to end on real parts: Asterisk, the four servers and the orchestrator as real
processes, and two real SIP callers (baresip). Caller A speaks English on 1001;
caller B listens on 1002 (Spanish) and must hear A's words translated."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from clients import sip
from clients.launch import running
from clients.speech import channel, transcribe
from corpus import prompt_pcm16, transcripts, wer
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from tests.conftest import wait_for

PROMPTS = ["conf-getpin", "vm-nobodyavail"]


@pytest.fixture(scope="module", params=["websocket", "rtp"])
def sip_orchestrator(
    request: pytest.FixtureRequest, asterisk: Path, stt_address: str, mt_address: str, tts_address: str
) -> Iterator[str]:
    """The orchestrator attached to Asterisk over ARI, with the given ExternalMedia transport."""
    args = ["--stt", stt_address, "--mt", mt_address, "--tts", tts_address, "--metrics-port", "0"]
    with running("orchestrator", *args, "--media", request.param) as address:
        yield address


class Captions:
    """Collects WatchCaptions in a thread."""

    def __init__(self, address: str) -> None:
        self.items: list[conference_pb2.Caption] = []
        self._channel = channel(address)
        stream = conference_pb2_grpc.ConferenceServiceStub(self._channel).WatchCaptions(
            conference_pb2.WatchCaptionsRequest()
        )
        self._stream = stream
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for response in self._stream:
                if response.HasField("caption"):
                    self.items.append(response.caption)
        except grpc.RpcError:
            pass

    def finals(self, language: str) -> list[str]:
        return [c.text for c in self.items if c.is_final and c.language_code == language]

    def close(self) -> None:
        self._stream.cancel()
        self._channel.close()


def participants(address: str) -> list[conference_pb2.Participant]:
    with channel(address) as ch:
        stub = conference_pb2_grpc.ConferenceServiceStub(ch)
        return list(stub.ListParticipants(conference_pb2.ListParticipantsRequest()).participants)


def test_sip_callers_hear_each_other_translated(sip_orchestrator: str, stt_address: str, tmp_path: Path) -> None:
    speech = b"".join(prompt_pcm16(n) + bytes(2 * 32000) for n in PROMPTS)
    said = tmp_path / "a.wav"
    sip.write_wav(said, np.frombuffer(speech, dtype="<i2"), 16000)
    heard = tmp_path / "b.wav"
    captions = Captions(sip_orchestrator)
    listener = sip.call("1002", record_wav=heard, duration_s=len(speech) / 32000 + 12, caller="beto")
    try:
        assert wait_for(lambda: any(p.language_code == "es" for p in participants(sip_orchestrator)), 30), listener.log[
            -2000:
        ]
        with sip.call("1001", play_wav=said, duration_s=len(speech) / 32000 + 2, caller="ana") as speaker:
            assert wait_for(lambda: len(participants(sip_orchestrator)) == 2, 30), speaker.log[-2000:]
            people = {p.language_code: p for p in participants(sip_orchestrator)}
            assert people["en"].transport == conference_pb2.TRANSPORT_SIP
            speaker.wait(60)
        listener.wait(60)
    finally:
        listener.close()
        captions.close()

    english, spanish = captions.finals("en"), captions.finals("es")
    print("A said:", english, "\nB was told:", spanish)
    reference = " ".join(transcripts("en")[n] for n in PROMPTS)
    assert wer(reference, " ".join(english)) < 0.35
    assert len(spanish) >= len(PROMPTS)
    recording, rate = sip.read_wav(heard)
    assert rate == 16000
    transcript = transcribe(stt_address, recording.astype("<i2").tobytes(), "es").text
    error = wer(" ".join(spanish), transcript)
    print(f"B heard: {transcript!r} (WER against the translation {error:.2f})")
    assert error <= 0.5

    with channel(sip_orchestrator) as ch:
        got = conference_pb2_grpc.ConferenceServiceStub(ch).GetMetrics(conference_pb2.GetMetricsRequest())
    for m in got.latencies:
        print(f"  {m.name:<28} n={m.count:<4} p50 {m.p50_ms:7.0f} ms  p95 {m.p95_ms:7.0f} ms")
    print(f"  tick CPU p50 {got.tick_cpu_p50_us:.0f} us; dropped {dict(got.dropped_frames)}")
    e2e = {m.name: m for m in got.latencies}["speech_end_to_first_audio"]
    print(f"end of speech -> first audio at B: p50 {e2e.p50_ms:.0f} ms, p95 {e2e.p95_ms:.0f} ms ({e2e.count})")
    assert e2e.count >= len(PROMPTS)
