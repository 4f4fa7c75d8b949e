"""Soak: calls come and go for --minutes while every process's resident memory is sampled, to show
whether anything grows.

    .venv/bin/python -m bench.soak [--minutes 30] [--warmup-min 2] [--sample-s 30] [--concurrent 2]
                                   [--sip-every 5] [--smoke]

A French listener stays in the conference throughout, and --concurrent callers at a
time come and go: each joins over Conference.Join (every --sip-every-th as a baresip
caller through Asterisk), in a language drawn from en, es, fr and it, reads --prompts
held-out core-sounds prompts in real time, leaves a few seconds later, and the next
joins 1-4 s after. Every --sample-s the CPU and resident memory of each process tree
(the four servers and the orchestrator with their children, and Asterisk) is sampled:
RSS, and its anonymous part (RSS less file-backed and shared pages, which the kernel
reclaims when other programs need memory; a leak grows the anonymous part). Growth
counts from the first sample after --warmup-min (model loading and first-use caches are
not growth) to the last: end - start scaled to MB per 10 min, and the slope of a
least-squares line through the samples. Translated utterances and their end of speech
-> first audio (first and second half of the soak) come from the traces. Prints a table
and writes bench/results/soak.json, samples included.

On a machine where others run the SIP tests, give the soak its own Asterisk: a state
folder (LINGUA_STATE_DIR) with links to .state/cache, .state/voices and
.state/asterisk/tree, and its own LINGUA_ASTERISK_SIP_PORT, _HTTP_PORT and _RTP_START/END.
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench import report, traces
from bench.stack import ENROLL, Stack, Trees, asterisk_tree, cpu_times, processes, speaker_id, speech, stack, turns
from bench.stack import usage as tree_usage
from clients import sip
from clients.conference import Participant
from clients.demo import EXTENSIONS

LANGUAGES = ("en", "es", "fr", "it")
LISTENER = "fr"
TAIL_S = 4.0
"""Silence a caller stays on after their last prompt (their translation plays meanwhile)."""


@dataclass
class Session:
    """One caller's visit."""

    number: int
    transport: str
    language: str
    prompts: int
    started_s: float
    """Unix time."""
    ok: bool
    error: str = ""


def visit(system: Stack, number: int, lang: str, names: list[str], pause_s: float, over_sip: bool) -> Session:
    """One caller joins, reads the prompts in real time, stays TAIL_S, and leaves."""
    pcm = speech(lang, names, pause_s)
    seconds = len(pcm) / 32000
    session = Session(number, "sip" if over_sip else "join", lang, len(names), time.time(), ok=False)
    if over_sip:
        with tempfile.TemporaryDirectory(prefix="lingua-soak-") as work:
            wav = Path(work) / "say.wav"
            sip.write_wav(wav, np.frombuffer(pcm, dtype="<i2"), 16000)
            call = sip.call(EXTENSIONS[lang], play_wav=wav, duration_s=seconds + TAIL_S, caller=speaker_id(lang))
            try:
                call.wait(seconds + TAIL_S + 60)
                session.ok = call.established
                session.error = "" if call.established else call.log[-400:]
            except TimeoutError as error:
                session.error = str(error)[:400]
            finally:
                call.close()
        return session
    person = Participant(system.orchestrator, f"Soak {number} {lang}", lang, speaker_id(lang) if lang in ENROLL else "")
    try:
        deadline = time.monotonic() + 15
        while not (person.participant_id or person.error) and time.monotonic() < deadline:
            time.sleep(0.05)
        if person.participant_id:
            person.say(pcm)
            time.sleep(seconds + TAIL_S)
        session.ok = bool(person.participant_id) and person.error is None
        session.error = "" if session.ok else str(person.error or "not joined in 15 s")[:400]
    finally:
        person.leave()
    return session


class Traffic:
    """concurrent callers at a time, one after another, until the deadline."""

    def __init__(self, system: Stack, args: argparse.Namespace, deadline: float) -> None:
        self.sessions: list[Session] = []
        self._numbers = itertools.count(1)
        self._pool = {lang: sorted(set(turns(lang, 200))) for lang in LANGUAGES}
        self._threads = [
            threading.Thread(target=self._run, args=(system, args, deadline, random.Random(args.seed * 1000 + w)))
            for w in range(args.concurrent)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, system: Stack, args: argparse.Namespace, deadline: float, rng: random.Random) -> None:
        while time.monotonic() < deadline:
            number = next(self._numbers)
            lang = rng.choice(LANGUAGES)
            names = rng.sample(self._pool[lang], min(args.prompts, len(self._pool[lang])))
            over_sip = args.sip_every > 0 and number % args.sip_every == 0
            self.sessions.append(visit(system, number, lang, names, args.pause_s, over_sip))
            time.sleep(rng.uniform(1.0, 4.0))

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)


def trees(with_asterisk: bool) -> Trees:
    """The process trees sampled: the servers, and Asterisk when it runs for this soak."""
    return {**processes(), "asterisk": asterisk_tree()} if with_asterisk else processes()


def anon_mb(procs: list[psutil.Process]) -> float:
    """Resident memory not backed by files (RSS less shared pages): what the kernel cannot reclaim without swap."""
    total = 0
    for proc in procs:
        try:
            info = proc.memory_info()
            total += info.rss - info.shared
        except psutil.Error:
            continue
    return total / 2**20


def growth(samples: list[dict[str, Any]], name: str, key: str = "rss_mb") -> dict[str, float]:
    """key at the start (after the warm-up), the end and its max, growth, and MB per 10 min by end points and by fit."""
    measured = [s for s in samples if not s["warmup"] and name in s["processes"]]
    t = np.array([s["t_s"] for s in measured])
    mb = np.array([s["processes"][name][key] for s in measured])
    if len(t) < 2 or t[-1] <= t[0]:
        return {"samples": len(t)}
    return {
        "samples": len(t),
        "start_mb": float(mb[0]),
        "end_mb": float(mb[-1]),
        "max_mb": float(mb.max()),
        "growth_mb": float(mb[-1] - mb[0]),
        "mb_per_10min": float((mb[-1] - mb[0]) * 600 / (t[-1] - t[0])),
        "fit_mb_per_10min": float(np.polyfit(t / 600, mb, 1)[0]),
        "cpu_pct": float(np.mean([s["processes"][name]["cpu_pct"] for s in measured])),
    }


def latency(found: list[traces.UtteranceTrace], start_ns: int, end_ns: int) -> dict[str, float]:
    """End of speech -> first translated audio over the utterances begun in [start_ns, end_ns)."""
    window = [u for u in found if start_ns <= u.spans[0].start_ns < end_ns]
    first = traces.summary(window)["speech_end_to_first_audio"]
    return {"utterances": len(window), **{k: first[k] for k in ("count", "p50", "p95", "max")}}


def table(results: dict[str, Any]) -> str:
    header = ("process", "start MB", "end MB", "max MB", "growth MB", "MB/10 min", "fit MB/10 min")
    rows: list[tuple[str, ...]] = [(*header, "anon start", "anon end", "anon fit MB/10 min", "CPU %")]
    for name, g in results["growth"].items():
        a = results["anon_growth"][name]
        keys = ("start_mb", "end_mb", "max_mb", "growth_mb", "mb_per_10min", "fit_mb_per_10min")
        cells = [f"{g[k]:.1f}" if k in g else "" for k in keys]
        cells += [f"{a[k]:.1f}" if k in a else "" for k in ("start_mb", "end_mb", "fit_mb_per_10min")]
        rows.append((name, *cells, f"{g['cpu_pct']:.1f}" if "cpu_pct" in g else ""))
    lines = [report.table(rows), ""]
    visits = [("", "sessions", "failed", "prompts read")]
    for transport in ("join", "sip"):
        done = [s for s in results["sessions"] if s["transport"] == transport]
        if done:
            failed = sum(not s["ok"] for s in done)
            visits.append((transport, str(len(done)), str(failed), str(sum(s["prompts"] for s in done if s["ok"]))))
    lines.append(report.table(visits))
    u = results["utterances"]
    lines.append(f"utterances traced {u['traced']}, translated {u['translated']} (heard in another language)")
    for half in ("first_half", "second_half"):
        h = results["latency"][half]
        lines.append(
            f"{half.replace('_', ' ')}: first audio p50 {h['p50']:.0f} ms, p95 {h['p95']:.0f} ms"
            f" over {h['count']} hearings of {h['utterances']} utterances"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the soak after the warm-up")
    parser.add_argument("--warmup-min", type=float, default=2.0, help="traffic before the first counted sample")
    parser.add_argument("--sample-s", type=float, default=30.0, help="seconds between memory samples")
    parser.add_argument("--concurrent", type=int, default=2, help="callers at a time")
    parser.add_argument("--prompts", type=int, default=3, help="prompts each caller reads")
    parser.add_argument("--pause-s", type=float, default=1.5, help="silence after each prompt")
    parser.add_argument("--sip-every", type=int, default=5, help="every n-th caller over SIP (0: none, no Asterisk)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="half a minute after 15 s of warm-up, sampled every 5 s")
    parser.add_argument("--out", type=Path, default=Path("bench/results/soak.json"))
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.warmup_min, args.sample_s = 0.5, 0.25, 5.0
    with_asterisk = args.sip_every > 0
    samples: list[dict[str, Any]] = []
    with stack(asterisk=with_asterisk) as system:
        listener = Participant(system.orchestrator, f"Listener {LISTENER}", LISTENER)
        t0, t0_ns = time.monotonic(), time.time_ns()
        warmup_s, end_s = args.warmup_min * 60, (args.warmup_min + args.minutes) * 60
        traffic = Traffic(system, args, t0 + end_s)
        before, last = cpu_times(trees(with_asterisk)), t0
        while True:
            done = not traffic.running()
            now, current = time.monotonic(), trees(with_asterisk)
            used = tree_usage(before, max(now - last, 1e-3), current)
            for name, procs in current.items():
                used[name]["anon_mb"] = anon_mb(procs)
            before, last = cpu_times(current), now
            samples.append({"t_s": now - t0, "warmup": now - t0 < warmup_s, "processes": used})
            print(f"{now - t0:7.0f} s  " + ", ".join(f"{n} {u['rss_mb']:.0f} MB" for n, u in used.items()), flush=True)
            if done:
                break
            next_at = now + args.sample_s
            while traffic.running() and time.monotonic() < next_at:
                time.sleep(0.5)
        listener.leave()
        time.sleep(1.0)  # the last spans are exported
        found = traces.utterances(system.receiver.spans())
    start_ns = t0_ns + int(warmup_s * 1e9)
    mid_ns = t0_ns + int((warmup_s + end_s) / 2 * 1e9)
    results: dict[str, Any] = {
        "machine": report.machine(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "growth": {name: growth(samples, name) for name in samples[-1]["processes"]},
        "anon_growth": {name: growth(samples, name, "anon_mb") for name in samples[-1]["processes"]},
        "sessions": [asdict(s) for s in sorted(traffic.sessions, key=lambda s: s.number)],
        "utterances": {
            "spoken": sum(s.prompts for s in traffic.sessions if s.ok),
            "traced": len(found),
            "translated": sum(bool(u.heard) for u in found),
        },
        "latency": {
            "first_half": latency(found, start_ns, mid_ns),
            "second_half": latency(found, mid_ns, t0_ns + int(1e9 * (end_s + 3600))),
        },
        "samples": samples,
    }
    print("\n" + table(results))
    report.write(args.out, results)


if __name__ == "__main__":
    main()
