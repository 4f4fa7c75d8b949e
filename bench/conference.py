"""End of speech to translated audio, over real SIP calls and over Conference.Join, with
the naive baseline in the same run. Every figure is read from the traces the servers
export (bench/traces.py), as a user would read them in Jaeger.

    .venv/bin/python -m bench.conference [--utterances 60] [--transports sip,join] [--smoke]

Two speakers, English and Spanish, take turns reading held-out core-sounds prompts
(each turn followed by --pause-s of silence); each hears the other translated. Over
SIP they are baresip callers through Asterisk (extensions 1001 and 1002); over Join
they are gRPC participants. Then the naive baseline translates the same turns on the
same servers one stage after another: the endpoint wait (the STT server's default
silence), the whole utterance's transcript, its whole translation, and its whole
synthesized audio. Prints the tables and writes bench/results/conference.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import report, traces
from bench.report import pct
from bench.stack import LANGUAGES, Stack, speaker_id, stack, turns
from clients import sip
from clients.conference import Participant
from clients.demo import EXTENSIONS
from clients.speech import channel, synthesize, transcribe, translate
from corpus import prompt_pcm16
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc

ENDPOINT_S = 0.3
"""The STT server's default endpoint silence: the naive pipeline waits for it too."""


def script(count: int) -> list[tuple[str, str]]:
    """count turns (language, prompt), alternating English and Spanish."""
    per = {lang: turns(lang, (count + 1) // 2) for lang in LANGUAGES}
    return [(LANGUAGES[i % 2], per[LANGUAGES[i % 2]][i // 2]) for i in range(count)]


def tracks(turns_: list[tuple[str, str]], pause_s: float) -> dict[str, bytes]:
    """What each speaker sends: their turns in order, silence while the other speaks or pauses."""
    out = {lang: bytearray() for lang in LANGUAGES}
    for lang, name in turns_:
        pcm = prompt_pcm16(name, lang)
        gap = bytes(int(pause_s * 16000) * 2)
        for other in LANGUAGES:
            out[other] += (pcm if other == lang else bytes(len(pcm))) + gap
    return {lang: bytes(v) for lang, v in out.items()}


def run_join(system: Stack, speech: dict[str, bytes]) -> None:
    """The turns read by two Join participants in real time."""
    people = {lang: Participant(system.orchestrator, f"Join {lang}", lang, speaker_id(lang)) for lang in LANGUAGES}
    time.sleep(1.0)
    for lang, person in people.items():
        person.say(speech[lang])
    time.sleep(len(speech[LANGUAGES[0]]) / 32000 + 8)
    for person in people.values():
        person.leave()


def run_sip(system: Stack, speech: dict[str, bytes]) -> None:
    """The turns read by two baresip callers through Asterisk."""
    seconds = len(speech[LANGUAGES[0]]) / 32000
    with tempfile.TemporaryDirectory(prefix="lingua-bench-") as work:
        calls = []
        for lang in LANGUAGES:
            wav = Path(work) / f"{lang}.wav"
            sip.write_wav(wav, np.frombuffer(speech[lang], dtype="<i2"), 16000)
            calls.append(sip.call(EXTENSIONS[lang], play_wav=wav, duration_s=seconds + 8, caller=speaker_id(lang)))
        for call in calls:
            call.wait(seconds + 60)
            call.close()


def naive(system: Stack, turns_: list[tuple[str, str]]) -> list[dict[str, float]]:
    """Each turn through whole-utterance STT, then MT, then all of its TTS audio (ms)."""
    out = []
    for lang, name in turns_:
        target = next(other for other in LANGUAGES if other != lang)
        began = time.perf_counter()
        text = transcribe(system.stt, prompt_pcm16(name, lang), lang, trailing_silence_s=0.0).text
        heard = time.perf_counter()
        translated = translate(system.mt, text, lang, target).text if text else ""
        translated_at = time.perf_counter()
        if translated:
            synthesize(system.tts, translated, target, profile_id=speaker_id(lang))
        done = time.perf_counter()
        out.append(
            {
                "stt_ms": (heard - began) * 1000,
                "mt_ms": (translated_at - heard) * 1000,
                "tts_ms": (done - translated_at) * 1000,
                "first_audio_ms": (ENDPOINT_S + done - began) * 1000,
            }
        )
    return out


def tick_cpu(system: Stack) -> dict[str, float]:
    """The orchestrator's CPU per 20 ms tick, and per participant, from GetMetrics."""
    with channel(system.orchestrator) as ch:
        got = conference_pb2_grpc.ConferenceServiceStub(ch).GetMetrics(conference_pb2.GetMetricsRequest())
    return {"tick_cpu_p50_us": got.tick_cpu_p50_us, "per_participant_us": got.tick_cpu_p50_us / len(LANGUAGES)}


def measure(transport: str, turns_: list[tuple[str, str]], pause_s: float, with_naive: bool) -> dict:
    """One transport's run on a fresh system: trace summary, the first trace, optionally the baseline."""
    with stack(asterisk=transport == "sip") as system:
        speech = tracks(turns_, pause_s)
        (run_sip if transport == "sip" else run_join)(system, speech)
        time.sleep(2.0)
        found = traces.utterances(system.receiver.spans())
        result = {
            "utterances_spoken": len(turns_),
            "utterances_traced": len(found),
            "summary": traces.summary(found),
            "orchestrator": tick_cpu(system),
            "example_trace": traces.render(next((u for u in found if u.heard), found[0])) if found else "",
            "utterances": [traces.record(u) for u in found],
        }
        if with_naive:
            baseline = naive(system, turns_)
            result["naive"] = {
                key: {"p50": pct([b[key] for b in baseline], 50), "p95": pct([b[key] for b in baseline], 95)}
                for key in baseline[0]
            }
    return result


def table(results: dict) -> str:
    """Latency per transport (p50/p95/p99/max) and the naive baseline beside it."""
    rows: list[tuple[str, ...]] = [("transport", "measure", "count", "p50", "p95", "p99", "max")]
    for transport, r in results["transports"].items():
        for name, s in r["summary"].items():
            digits = 2 if name.endswith("_s") else 0
            cells = [f"{s[k]:.{digits}f}" for k in ("p50", "p95", "p99", "max")]
            rows.append((transport, name if digits else f"{name} ms", str(s["count"]), *cells))
        per = r["orchestrator"]["per_participant_us"]
        rows.append((transport, "orchestrator CPU us per tick per participant", "", f"{per:.0f}"))
    for transport, r in results["transports"].items():
        if "naive" not in r:
            continue
        for stage in ("stt_ms", "mt_ms", "tts_ms", "first_audio_ms"):
            s = r["naive"][stage]
            rows.append(("naive", f"{stage.removesuffix('_ms')} ms", "", f"{s['p50']:.0f}", f"{s['p95']:.0f}"))
        theirs, ours = r["naive"]["first_audio_ms"], r["summary"]["speech_end_to_first_audio"]
        ratio = [f"{theirs[k] / ours[k]:.1f}x" for k in ("p50", "p95")]
        rows.append(("naive", f"first audio: naive / {transport}", "", *ratio))
    return report.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=60, help="turns, alternating English and Spanish")
    parser.add_argument("--pause-s", type=float, default=1.5, help="silence after each turn")
    parser.add_argument("--transports", default="sip,join", help="comma-separated: sip, join")
    parser.add_argument("--smoke", action="store_true", help="4 turns: checks the suite works, not its timings")
    parser.add_argument("--out", type=Path, default=Path("bench/results/conference.json"))
    args = parser.parse_args()
    count = 4 if args.smoke else args.utterances
    turns_ = script(count)
    transports = [t for t in args.transports.split(",") if t]
    results: dict = {"machine": report.machine(), "turns": turns_, "pause_s": args.pause_s, "transports": {}}
    for i, transport in enumerate(transports):
        results["transports"][transport] = measure(transport, turns_, args.pause_s, with_naive=i == 0)
    print(table(results))
    for transport, r in results["transports"].items():
        print(f"\none utterance over {transport}, as the OTLP receiver got it:\n{r['example_trace']}")
    report.write(args.out, results)


if __name__ == "__main__":
    main()
