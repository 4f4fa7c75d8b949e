"""Smoke runs of the overload and soak benchmarks: they work end to end (timings and growth are not checked)."""

from __future__ import annotations

from pathlib import Path

from tests.test_bench import bench


def test_overload_benchmark(tmp_path: Path) -> None:
    results = bench("bench.overload", tmp_path / "overload.json", "--no-sip")
    assert results["admitted"] == results["max_participants"] == 2
    baseline, overload = results["phases"]["baseline"], results["phases"]["overload"]
    for phase in (baseline, overload):
        assert phase["summary"]["speech_end_to_first_audio"]["count"] >= 1, phase["summary"]
    assert baseline["join_attempts"] == 0
    assert overload["join_attempts"] >= 3 and overload["outcomes"] == {"RESOURCE_EXHAUSTED": overload["join_attempts"]}
    assert results["refused"] == overload["join_attempts"]
    assert any("the conference is full" in m for m in overload["messages"]), overload["messages"]


def test_soak_benchmark(tmp_path: Path) -> None:
    results = bench("bench.soak", tmp_path / "soak.json", "--sip-every", "0")
    assert {"stt_server", "mt_server", "tts_server", "profile_server", "orchestrator"} <= set(results["growth"])
    assert all(g["samples"] >= 2 and "fit_mb_per_10min" in g for g in results["growth"].values()), results["growth"]
    assert any(s["warmup"] for s in results["samples"]) and not results["samples"][-1]["warmup"]
    assert results["sessions"] and all(s["ok"] and s["transport"] == "join" for s in results["sessions"])
    assert results["utterances"]["translated"] >= 1
