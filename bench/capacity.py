"""Capacity: 1, 2, 4, 8 speakers at once over Conference.Join until real time breaks.

    .venv/bin/python -m bench.capacity [--speakers 1,2,4,8] [--turns 6] [--smoke]

At each level N speakers (English and Spanish, alternating) read held-out core-sounds
turns at the same time, each turn followed by a pause; they hear one another
translated, and a French listener hears them all, so every utterance is translated
into two languages. Real time breaks at a level where frames are dropped (input or
speech-to-text queues), ticks run late, or the p95 of end of speech -> first audio is
twice the one-speaker p95; the sweep stops after the first broken level. Figures come
from the traces (bench/traces.py); CPU and memory per server from /proc. Prints a
table and writes bench/results/capacity.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import report, traces
from bench.stack import LANGUAGES, Stack, cpu_times, speaker_id, stack, turns, usage
from clients.conference import Participant
from clients.speech import channel
from corpus import prompt_pcm16
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc

LISTENER = "fr"


def level(system: Stack, speakers: int, count: int, pause_s: float) -> dict:
    """One level of the sweep: its latency summary, dropped frames and per-server usage."""
    begun_ns = time.time_ns()
    listener = Participant(system.orchestrator, "Listener fr", LISTENER)
    people = []
    for n in range(speakers):
        lang = LANGUAGES[n % 2]
        people.append((lang, Participant(system.orchestrator, f"Speaker {n + 1}", lang, speaker_id(lang))))
    time.sleep(1.0)
    before, started = cpu_times(), time.perf_counter()
    longest = 0.0
    for n, (lang, person) in enumerate(people):
        names = turns(lang, count * (n // 2 + 1))[-count:]
        speech = b"".join(prompt_pcm16(name, lang) + bytes(int(pause_s * 16000) * 2) for name in names)
        person.say(bytes(n * 6400) + speech)  # starts 0.2 s apart
        longest = max(longest, len(speech) / 32000 + n * 0.2)
    time.sleep(longest + 6)
    used = usage(before, time.perf_counter() - started)
    with channel(system.orchestrator) as ch:
        got = conference_pb2_grpc.ConferenceServiceStub(ch).GetMetrics(conference_pb2.GetMetricsRequest())
    for _, person in people:
        person.leave()
    listener.leave()
    time.sleep(1.0)
    found = [u for u in traces.utterances(system.receiver.spans()) if u.spans[0].start_ns >= begun_ns]
    return {
        "speakers": speakers,
        "utterances_spoken": speakers * count,
        "utterances_traced": len(found),
        "summary": traces.summary(found),
        "dropped_frames": sum(got.dropped_frames.values()),
        "stale_frames": sum(got.stale_frames.values()),
        "late_ticks": got.late_ticks,
        "tick_cpu_p50_us": got.tick_cpu_p50_us,
        "processes": used,
    }


def broken(result: dict, single_p95: float) -> str:
    """Why real time broke at this level, or "" if it held."""
    p95 = result["summary"]["speech_end_to_first_audio"]["p95"]
    reasons = []
    if result["dropped_frames"]:
        reasons.append(f"{result['dropped_frames']} frames dropped")
    if result["late_ticks"]:
        reasons.append(f"{result['late_ticks']} late ticks")
    if p95 > 2 * single_p95:
        reasons.append("p95 doubled")
    return ", ".join(reasons)


def table(levels: list[dict]) -> str:
    rows = [
        (
            "speakers",
            "utterances",
            "first audio p50",
            "p95",
            "p99",
            "lag p95",
            "stale",
            "CPU % (process)",
            "RSS MB",
            "real time",
        )
    ]
    for r in levels:
        s = r["summary"]
        cpu = ", ".join(f"{n.removesuffix('_server')} {u['cpu_pct']:.0f}" for n, u in sorted(r["processes"].items()))
        rss = sum(u["rss_mb"] for u in r["processes"].values())
        rows.append(
            (
                str(r["speakers"]),
                f"{r['utterances_traced']}/{r['utterances_spoken']}",
                f"{s['speech_end_to_first_audio']['p50']:.0f}",
                f"{s['speech_end_to_first_audio']['p95']:.0f}",
                f"{s['speech_end_to_first_audio']['p99']:.0f}",
                f"{s['speech_end_to_last_audio']['p95']:.0f}",
                str(r["stale_frames"]),
                cpu,
                f"{rss:.0f}",
                r["broken"] or "holds",
            )
        )
    return report.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", default="1,2,4,8", help="levels of the sweep")
    parser.add_argument("--turns", type=int, default=6, help="turns each speaker reads per level")
    parser.add_argument("--pause-s", type=float, default=1.5, help="silence after each turn")
    parser.add_argument("--smoke", action="store_true", help="levels 1 and 2, one turn each")
    parser.add_argument("--out", type=Path, default=Path("bench/results/capacity.json"))
    args = parser.parse_args()
    sweep = [1, 2] if args.smoke else [int(n) for n in args.speakers.split(",")]
    count = 1 if args.smoke else args.turns
    levels: list[dict] = []
    with stack(asterisk=False) as system:
        for speakers in sweep:
            result = level(system, speakers, count, args.pause_s)
            single = levels[0]["summary"]["speech_end_to_first_audio"]["p95"] if levels else float("inf")
            result["broken"] = broken(result, single)
            levels.append(result)
            print(table(levels).splitlines()[-1], flush=True)
            if result["broken"] and not args.smoke:
                break
    print("\n" + table(levels))
    report.write(args.out, {"machine": report.machine(), "levels": levels})


if __name__ == "__main__":
    main()
