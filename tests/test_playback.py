"""The listener's playback queue and the catch-up policy, on their own (no servers)."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator import hurry
from orchestrator.frames import FRAME_BYTES, RATE, PlaybackQueue
from orchestrator.listening import CatchUp, Pace


def frames(n: int, value: int = 1) -> list[bytes]:
    return [bytes([value]) * FRAME_BYTES] * n


def test_marks_fire_as_their_frames_play_and_report_drops() -> None:
    queue = PlaybackQueue()
    seen: list[tuple[str, bool]] = []
    queue.push("bob", frames(2), lambda played: seen.append(("first", played)))
    queue.mark("bob", lambda played: seen.append(("last", played)))
    assert queue.queued_seconds("bob") == 0.04
    assert queue.mix() is not None and seen == [("first", True)]
    assert queue.mix() is not None and seen == [("first", True)]
    assert queue.mix() is None and seen == [("first", True), ("last", True)]
    queue.push("bob", frames(3), lambda played: seen.append(("stale", played)))
    assert queue.drop("bob") == 3 and seen[-1] == ("stale", False)
    assert queue.queued_seconds("bob") == 0 and queue.mix() is None and queue.dropped == 3


def test_sources_mix_in_parallel_with_clipping() -> None:
    queue = PlaybackQueue()
    queue.push("a", [b"\xff\x7f" * (FRAME_BYTES // 2)])
    queue.push("b", [b"\xff\x7f" * (FRAME_BYTES // 2)])
    assert queue.depth() == 2
    assert queue.mix() == b"\xff\x7f" * (FRAME_BYTES // 2)
    assert queue.depth() == 0


def test_catch_up_rate_rises_with_the_backlog_up_to_a_cap() -> None:
    policy = CatchUp(after_s=0.5, rate_per_s=0.25, max_rate=1.5, drop_s=4.0)
    assert policy.rate(0.0) == policy.rate(0.5) == 1.0
    assert policy.rate(1.5) == 1.25
    assert policy.rate(10.0) == 1.5


def test_translations_longer_than_their_speech_keep_pace_with_the_speaker() -> None:
    policy = CatchUp(after_s=0.5, rate_per_s=0.25, max_rate=1.5, drop_s=4.0)
    assert policy.rate(0.0, expected_s=3.0, spoken_s=2.5) == 1.2
    assert policy.rate(0.0, expected_s=2.0, spoken_s=2.5) == 1.0
    assert policy.rate(0.0, expected_s=9.0, spoken_s=2.5) == 1.5
    pace = Pace()
    pace.learn("es", 100, audio_s=6.0, rate=1.25)  # 100 characters took 6 s at 1.25x: 7.5 s at 1x
    assert pace.expect("es", 10) == 0.75
    pace.learn("es", 100, audio_s=7.5, rate=1.0)
    assert pace.expect("es", 10) == 0.75


def voiced(seconds: float) -> list[bytes]:
    """Speech-like frames (a 150 Hz buzz) to time-scale."""
    t = np.arange(int(seconds * RATE)) / RATE
    pcm = (8000 * np.sign(np.sin(2 * np.pi * 150 * t))).astype("<i2").tobytes()
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def hurried(queue: PlaybackQueue, source: str, rate: float, max_rate: float = 1.5, play: int = 0) -> float:
    """Snapshot, remake (as the orchestrator's worker thread does), play `play` frames, replace; seconds saved."""
    snapshot = queue.snapshot(source)
    remade, head, saved = hurry.remake(snapshot, rate, max_rate)
    for _ in range(play):
        queue.mix()
    assert queue.replace(snapshot, remade, head)
    return saved


def test_hurry_plays_the_queued_translation_faster_and_keeps_its_marks() -> None:
    queue = PlaybackQueue()
    seen: list[str] = []
    queue.push("bob", voiced(2.0), lambda _: seen.append("first 1"), rate=1.0)
    queue.mark("bob", lambda _: seen.append("last 1"))
    queue.push("bob", voiced(1.0), lambda _: seen.append("first 2"), rate=1.0)
    saved = hurried(queue, "bob", rate=1.5)
    assert saved == pytest.approx(1.0, abs=0.04)
    assert queue.queued_seconds("bob") == pytest.approx(3.0 / 1.5, abs=0.04)
    played = 0
    while queue.mix() is not None:
        played += 1
        if seen == ["first 1", "last 1"]:
            assert played * 0.02 == pytest.approx(2.0 / 1.5, abs=0.04)
    assert seen == ["first 1", "last 1", "first 2"]


def test_hurry_splices_after_what_played_meanwhile_and_never_exceeds_the_cap() -> None:
    queue = PlaybackQueue()
    queue.push("bob", voiced(2.0), rate=1.25)
    saved = hurried(queue, "bob", rate=3.0, max_rate=1.5, play=10)
    assert queue.queued_seconds("bob") == pytest.approx((2.0 - 0.2) * 1.25 / 1.5, abs=0.04)
    assert saved == pytest.approx(2.0 - 2.0 * 1.25 / 1.5, abs=0.04)
    assert hurried(queue, "bob", rate=3.0, max_rate=1.5) == 0.0, "already at the cap"


def test_hurry_gives_way_to_a_drop() -> None:
    queue = PlaybackQueue()
    queue.push("bob", voiced(1.0), rate=1.0)
    snapshot = queue.snapshot("bob")
    remade, head, _ = hurry.remake(snapshot, 1.5, 1.5)
    queue.drop("bob")
    queue.push("bob", voiced(0.5), rate=1.0)
    assert not queue.replace(snapshot, remade, head)
    assert queue.queued_seconds("bob") == 0.5
