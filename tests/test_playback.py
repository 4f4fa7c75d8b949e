"""The listener's playback queue and the catch-up policy, on their own (no servers)."""

from __future__ import annotations

from orchestrator.frames import FRAME_BYTES, PlaybackQueue
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
