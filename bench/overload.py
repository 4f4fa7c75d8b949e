"""Overload: past --max-participants newcomers are refused at once and told why, while the
admitted speakers keep their latency.

    .venv/bin/python -m bench.overload [--max-participants 5] [--extra 3] [--turns 6] [--no-sip] [--smoke]

The orchestrator runs with the limit, and a French listener and limit - 1 speakers
(English and Spanish, alternating) fill it over Conference.Join. The speakers read the
same held-out turns twice in real time, 0.2 s apart (as in bench/capacity.py): in the
baseline phase alone, in the overload phase while --extra clients try to Join every
second and, through Asterisk, a SIP caller dials the Italian extension. Each refused
Join is timed from the call to its RESOURCE_EXHAUSTED status; the SIP caller from its
start (the INVITE) to the answer and from the answer to the far end's hang-up, with how
much of the spoken refusal it heard. End of speech -> first translated audio comes from
the traces (bench/traces.py). Prints a table and writes bench/results/overload.json.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from bench import report, traces
from bench.report import pct
from bench.stack import LANGUAGES, Stack, metrics, speaker_id, speech, stack, turns
from clients import sip
from clients.conference import Participant
from clients.demo import EXTENSIONS
from clients.speech import channel
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc

LISTENER = "fr"
SIP_LANGUAGE = "it"
REFUSED = grpc.StatusCode.RESOURCE_EXHAUSTED.name


@dataclass
class Attempt:
    """One Join past the limit."""

    client: int
    ms: float
    """From the Join call to its status (or to Joined, if a place was free)."""
    outcome: str
    """RESOURCE_EXHAUSTED, admitted, or the status code it got."""
    details: str


def attempt(stub: conference_pb2_grpc.ConferenceServiceStub, client: int) -> Attempt:
    """Try to join once; leave at once if admitted."""
    lang = LANGUAGES[client % 2]
    config = conference_pb2.JoinConfig(display_name=f"Extra {client}", language_code=lang)
    done = threading.Event()

    def requests() -> Iterator[conference_pb2.JoinRequest]:
        yield conference_pb2.JoinRequest(config=config)
        done.wait(30)

    began = time.perf_counter()
    call = stub.Join(requests(), timeout=30)
    try:
        next(call)
        outcome, details = "admitted", ""
        call.cancel()
    except grpc.RpcError as error:
        outcome, details = error.code().name, error.details() or ""
    except StopIteration:
        outcome, details = "closed", ""
    finally:
        done.set()
    return Attempt(client, (time.perf_counter() - began) * 1000, outcome, details)


class Knockers:
    """count clients, each trying to Join every every_s until stopped."""

    def __init__(self, address: str, count: int, every_s: float = 1.0) -> None:
        self.attempts: list[Attempt] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(address, n, every_s)) for n in range(count)]
        for thread in self._threads:
            thread.start()

    def _run(self, address: str, client: int, every_s: float) -> None:
        with channel(address) as ch:
            stub = conference_pb2_grpc.ConferenceServiceStub(ch)
            while not self._stop.is_set():
                began = time.perf_counter()
                self.attempts.append(attempt(stub, client))
                self._stop.wait(max(0.0, every_s - (time.perf_counter() - began)))

    def stop(self) -> list[Attempt]:
        self._stop.set()
        for thread in self._threads:
            thread.join(40)
        return self.attempts


def refused_call(extension: str, out: dict[str, Any], timeout_s: float = 60.0) -> None:
    """Dial extension with baresip; into out: ms to the answer and from it to the far end's hang-up, speech heard."""
    with tempfile.TemporaryDirectory(prefix="lingua-overload-") as work:
        wav = Path(work) / "heard.wav"
        began = time.perf_counter()
        call = sip.call(extension, record_wav=wav, duration_s=timeout_s, caller="bench-extra")
        answered = ended = None
        try:
            while ended is None and time.perf_counter() - began < timeout_s:
                now = time.perf_counter()
                if answered is None and call.established:
                    answered = now
                if call.ended():
                    ended = now
                time.sleep(0.02)
        finally:
            call.close()
        frames = sip.read_wav(wav)[0] if wav.exists() else np.zeros(0, dtype=np.int16)
        frames = frames[: len(frames) // 320 * 320].astype(np.float32).reshape(-1, 320)
        loud = int((np.sqrt((frames * frames).mean(axis=1)) > 300).sum()) if len(frames) else 0
    out.update(
        answered=answered is not None,
        hung_up_by_far_end=ended is not None,
        answer_ms=(answered - began) * 1000 if answered else float("nan"),
        answer_to_hangup_ms=(ended - answered) * 1000 if answered and ended else float("nan"),
        speech_heard_s=loud * 0.02,
    )


def phase(system: Stack, speakers: list[Participant], pcm: list[bytes], extra: int, with_sip: bool) -> dict:
    """The speakers read their turns (with newcomers knocking, if extra or with_sip); latency and refusals."""
    begun_ns = time.time_ns()
    before = metrics(system.orchestrator)
    knockers = Knockers(system.orchestrator, extra) if extra else None
    caller: dict[str, Any] = {}
    dialer = threading.Thread(target=refused_call, args=(EXTENSIONS[SIP_LANGUAGE], caller)) if with_sip else None
    if dialer:
        dialer.start()
    for person, speech_ in zip(speakers, pcm, strict=True):
        person.say(speech_)
    time.sleep(max(len(p) for p in pcm) / 32000 + 6)
    ended_ns = time.time_ns()
    attempts = knockers.stop() if knockers else []
    if dialer:
        dialer.join(90)
    after = metrics(system.orchestrator)
    time.sleep(1.0)  # the last spans are exported
    found = [u for u in traces.utterances(system.receiver.spans()) if begun_ns <= u.spans[0].start_ns < ended_ns]
    refused_ms = [a.ms for a in attempts if a.outcome == REFUSED]
    return {
        "utterances_traced": len(found),
        "summary": traces.summary(found),
        "dropped_frames": sum(after.dropped_frames.values()) - sum(before.dropped_frames.values()),
        "late_ticks": after.late_ticks - before.late_ticks,
        "join_attempts": len(attempts),
        "outcomes": dict(Counter(a.outcome for a in attempts)),
        "refusal_ms": {"p50": pct(refused_ms, 50), "p95": pct(refused_ms, 95), "max": max(refused_ms, default=0.0)},
        "messages": sorted({a.details for a in attempts if a.outcome == REFUSED}),
        "attempts": [asdict(a) for a in attempts],
        "sip": caller,
    }


def table(results: dict) -> str:
    header = ("phase", "utterances", "first audio p50", "p95", "p99", "dropped", "late ticks", "Join tries", "refused")
    rows: list[tuple[str, ...]] = [(*header, "refusal p50 ms", "max ms")]
    for name, r in results["phases"].items():
        first = r["summary"]["speech_end_to_first_audio"]
        rows.append(
            (
                name,
                f"{r['utterances_traced']}/{results['utterances_per_phase']}",
                *(f"{first[k]:.0f}" for k in ("p50", "p95", "p99")),
                str(r["dropped_frames"]),
                str(r["late_ticks"]),
                str(r["join_attempts"]),
                str(r["outcomes"].get(REFUSED, 0)),
                *(f"{r['refusal_ms'][k]:.1f}" if r["join_attempts"] else "" for k in ("p50", "max")),
            )
        )
    lines = [report.table(rows), f"admitted {results['admitted']}, refused {results['refused']}"]
    lines += [f"refusal: {m}" for m in results["phases"]["overload"]["messages"]]
    if call := results["phases"]["overload"]["sip"]:
        lines.append(
            f"SIP caller past the limit: answered after {call['answer_ms']:.0f} ms, heard"
            f" {call['speech_heard_s']:.1f} s of speech, hung up {call['answer_to_hangup_ms']:.0f} ms after the answer"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-participants", type=int, default=5, help="the limit: a listener and limit - 1 speakers")
    parser.add_argument("--extra", type=int, default=3, help="clients trying to Join every second past the limit")
    parser.add_argument("--turns", type=int, default=6, help="turns each speaker reads per phase")
    parser.add_argument("--pause-s", type=float, default=1.5, help="silence after each turn")
    parser.add_argument("--no-sip", action="store_true", help="no Asterisk, no refused SIP caller")
    parser.add_argument("--smoke", action="store_true", help="limit 2, one turn, one extra client")
    parser.add_argument("--out", type=Path, default=Path("bench/results/overload.json"))
    args = parser.parse_args()
    limit, count, extra = (2, 1, 1) if args.smoke else (args.max_participants, args.turns, args.extra)
    results: dict[str, Any] = {"machine": report.machine(), "max_participants": limit, "turns": count, "phases": {}}
    with stack(asterisk=not args.no_sip, max_participants=limit) as system:
        listener = Participant(system.orchestrator, f"Listener {LISTENER}", LISTENER)
        speakers, pcm = [], []
        for n in range(limit - 1):
            lang = LANGUAGES[n % 2]
            speakers.append(Participant(system.orchestrator, f"Speaker {n + 1}", lang, speaker_id(lang)))
            pcm.append(bytes(n * 6400) + speech(lang, turns(lang, count * (n // 2 + 1))[-count:], args.pause_s))
        admitted = [listener, *speakers]
        deadline = time.monotonic() + 30
        while not all(p.participant_id or p.error for p in admitted) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not all(p.participant_id for p in admitted):
            raise RuntimeError(f"not every participant was admitted: {[p.error for p in admitted if p.error]}")
        time.sleep(1.0)
        results["utterances_per_phase"] = count * len(speakers)
        results["phases"]["baseline"] = phase(system, speakers, pcm, 0, False)
        results["phases"]["overload"] = phase(system, speakers, pcm, extra, not args.no_sip)
        results["admitted"] = sum(bool(p.participant_id) and p.error is None for p in admitted)
        for person in admitted:
            person.leave()
    overload = results["phases"]["overload"]
    sip_refused = bool(overload["sip"].get("hung_up_by_far_end"))
    results["refused"] = overload["outcomes"].get(REFUSED, 0) + sip_refused
    print("\n" + table(results))
    report.write(args.out, results)


if __name__ == "__main__":
    main()
