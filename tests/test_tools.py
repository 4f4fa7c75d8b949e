"""Clients other than our own Python: grpcurl (reflection, health) and Node.js (grpc-js)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
GRPCURL = str(Path(sys.executable).parent / "grpcurl")

SERVICES = {
    "stt_address": "lingua.stt.v1.SpeechToTextService",
    "mt_address": "lingua.mt.v1.TranslatorService",
    "tts_address": "lingua.tts.v1.TextToSpeechService",
    "profile_address": "lingua.profile.v1.VoiceProfileService",
}


def grpcurl(address: str, *args: str, data: dict | None = None) -> str:
    cmd = [GRPCURL, "-plaintext"]
    if data is not None:
        cmd += ["-d", json.dumps(data)]
    result = subprocess.run([*cmd, address, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("fixture", sorted(SERVICES))
def test_grpcurl_reflection_and_health(fixture: str, request: pytest.FixtureRequest) -> None:
    address = request.getfixturevalue(fixture)
    listed = grpcurl(address, "list").split()
    assert SERVICES[fixture] in listed
    assert "grpc.health.v1.Health" in listed
    described = grpcurl(address, "describe", SERVICES[fixture])
    assert "rpc " in described
    health = json.loads(grpcurl(address, "grpc.health.v1.Health/Check", data={"service": SERVICES[fixture]}))
    assert health["status"] == "SERVING"


def test_grpcurl_list_voices(tts_address: str) -> None:
    out = json.loads(grpcurl(tts_address, "lingua.tts.v1.TextToSpeechService/ListVoices", data={"language_code": "es"}))
    assert out["voices"], out
    assert all(any(code.startswith("es") for code in v["language_codes"]) for v in out["voices"])


def test_grpcurl_translate(mt_address: str) -> None:
    out = json.loads(
        grpcurl(
            mt_address,
            "lingua.mt.v1.TranslatorService/Translate",
            data={"source_language_code": "en", "target_language_code": "es", "text": "Good night."},
        )
    )
    assert "noche" in out["text"].lower() and out["route"], out


def test_node_client_streams_text_and_receives_audio(tts_address: str, tmp_path: Path) -> None:
    out = tmp_path / "node.pcm"
    args = ["--address", tts_address, "--language", "en", "--out", str(out)]
    result = subprocess.run(
        ["node", "clients/node/tts_client.js", *args, "Hello from Node.", "This text was streamed word by word."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["chunks"] > 0
    assert summary["bytes"] % summary["frameBytes"] == 0
    types = [m["type"] for m in summary["markers"]]
    assert types[0] == "SEGMENT_MARKER_TYPE_START" and types[-1] == "SEGMENT_MARKER_TYPE_END"
    samples = np.frombuffer(out.read_bytes(), dtype="<i2").astype(np.float32)
    assert len(samples) / 16000 > 1.0
    assert np.sqrt(np.mean(samples**2)) > 300, "audio is near silent"
