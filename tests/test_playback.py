"""The listener's playback queue and the catch-up policy, on their own (no servers)."""

from __future__ import annotations

from orchestrator.frames import FRAME_BYTES, PlaybackQueue
from orchestrator.listening import CatchUp


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
