"""Smoke runs of the latency and capacity benchmarks: they work end to end (timings are not checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clients.launch import REPO


def bench(module: str, out: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--out", str(out), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(done.stdout[-6000:])
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


def test_conference_benchmark_over_sip_and_join(tmp_path: Path, asterisk: Path) -> None:
    results = bench("bench.conference", tmp_path / "conference.json")
    for transport in ("sip", "join"):
        run = results["transports"][transport]
        first = run["summary"]["speech_end_to_first_audio"]
        assert run["utterances_traced"] >= 3, (transport, run["utterances_traced"])
        assert first["count"] >= 3 and 0 < first["p50"] <= first["p95"], (transport, first)
        assert run["summary"]["stt_final"]["count"] >= 3 and run["summary"]["mt_server"]["count"] >= 3
        assert "playback" in run["example_trace"] and "StreamingSynthesize" in run["example_trace"]
    naive = results["transports"]["sip"]["naive"]
    assert naive["first_audio_ms"]["p50"] > naive["stt_ms"]["p50"] > 0


def test_capacity_benchmark(tmp_path: Path) -> None:
    levels = bench("bench.capacity", tmp_path / "capacity.json")["levels"]
    assert [level["speakers"] for level in levels] == [1, 2]
    for level in levels:
        assert level["utterances_traced"] >= level["utterances_spoken"], level
        assert level["summary"]["speech_end_to_first_audio"]["count"] >= level["speakers"]
        assert {"stt_server", "mt_server", "tts_server", "orchestrator"} <= set(level["processes"])
