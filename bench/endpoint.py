"""Endpointing: how soon an utterance closes after the speaker stops, and how often a
sentence gets split, with a fixed silence and with Smart Turn.

    .venv/bin/python -m bench.endpoint [--limit 20] [--write]

Core-sounds prompts (en and es; each followed by 1.5 s of silence) are streamed in
real time to STT servers started with each --turn-endpoint-ms candidate (0: the fixed
300 ms endpoint alone). A prompt is split when it comes back as more finals than its
transcript has sentences. Final latency: from the end of speech (the final's end
offset) to the last final's arrival. The turn endpoint is chosen on the dev prompts
(the shortest whose split rate is at most the fixed endpoint's plus --split-margin);
the held-out prompts are reported for the fixed endpoint and the chosen one.
Prints a table and writes bench/results/endpoint.json.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench import report
from bench.report import pct
from clients.launch import running
from clients.speech import transcribe
from corpus import prompt_pcm16, transcripts
from corpus.sets import Split, spoken_prompts

LANGUAGES = ("en", "es")
CANDIDATES = (0, 100, 150, 200)


def sentences(text: str) -> int:
    """Sentences in a transcript (at least one)."""
    return max(1, len([s for s in re.split(r"[.!?]+", text) if s.strip()]))


def run(turn_ms: int, split: Split, limit: int) -> dict[str, float]:
    """Split rate and final latency over one split's prompts, on a server with turn_ms."""
    splits = prompts = 0
    waits = []
    with running("stt_server", "--turn-endpoint-ms", str(turn_ms)) as address:
        for language in LANGUAGES:
            for name in spoken_prompts(language, split)[:limit]:
                result = transcribe(
                    address, prompt_pcm16(name, language), language, realtime=True, trailing_silence_s=1.5
                )
                finals = result.finals
                if not finals:
                    continue
                prompts += 1
                splits += len(finals) > sentences(transcripts(language)[name])
                end = result.audio_start + finals[-1].end_offset.ToTimedelta().total_seconds()
                waits.append((result.last_final_at() - end) * 1000)
    return {
        "prompts": prompts,
        "split_rate": splits / max(prompts, 1),
        "final_p50_ms": pct(waits, 50),
        "final_p95_ms": pct(waits, 95),
    }


def choose(dev: dict[int, dict[str, float]], margin: float) -> int:
    """The shortest turn endpoint whose dev split rate is within margin of the fixed endpoint's."""
    bar = dev[0]["split_rate"] + margin
    fits = [ms for ms in sorted(dev) if ms and dev[ms]["split_rate"] <= bar]
    return fits[0] if fits else 0


def label(ms: int) -> str:
    return "fixed 300 ms" if ms == 0 else f"Smart Turn, {ms} ms"


def table(results: dict) -> str:
    rows = [("split", "endpoint", "prompts", "split rate", "final p50 ms", "final p95 ms")]
    for split in ("dev", "test"):
        for ms, r in results[split].items():
            chosen = " (chosen)" if int(ms) == results["chosen"] else ""
            rows.append(
                (
                    split,
                    label(int(ms)) + chosen,
                    str(r["prompts"]),
                    f"{r['split_rate']:.2f}",
                    f"{r['final_p50_ms']:.0f}",
                    f"{r['final_p95_ms']:.0f}",
                )
            )
    return report.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=20, help="prompts per language and split")
    parser.add_argument(
        "--split-margin", type=float, default=0.05, help="extra split rate allowed over the fixed endpoint"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/endpoint.json"))
    args = parser.parse_args()
    dev = {ms: run(ms, "dev", args.limit) for ms in CANDIDATES}
    chosen = choose(dev, args.split_margin)
    test = {ms: run(ms, "test", args.limit) for ms in sorted({0, chosen})}
    results = {"machine": report.machine(), "dev": dev, "test": test, "chosen": chosen}
    print(table(results))
    report.write(args.out, results)


if __name__ == "__main__":
    main()
