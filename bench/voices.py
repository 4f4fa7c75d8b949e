"""Round-trip intelligibility and speed of every voice, per language, over real gRPC sockets.

    .venv/bin/python -m bench.voices [--languages es,fr] [--engines pico,mbrola] [--limit N] [--write-table]

Each voice reads the parallel sentences of corpus/sentences.tsv (20 dev, 20 held-out
per language) through the TTS server; the STT server (told the language) transcribes
the audio back. WER is scored on lower-cased words without punctuation or diacritics
(accents are spelling, not sound); the exact-spelling WER is kept beside it. First
audio is the time from sending the text to the first audio chunk. The STT's own WER on
human speech (core-sounds prompts, en/es/fr) sets each language's bar. Prints a table,
writes bench/results/voices.json, and with --write-table (full runs only) the
committed table tts_server/voices.json that the server's defaults follow.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import ExitStack
from pathlib import Path

from bench import report
from bench.report import pct
from clients.launch import running
from clients.speech import channel, synthesize, transcribe
from corpus import prompt_pcm16, transcripts, word_errors
from corpus.sets import PROMPT_LANGUAGES, SENTENCE_LANGUAGES, Split, sentences, spoken_prompts
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tts_server.voice_table import TABLE, policies

SPLITS: tuple[Split, ...] = ("dev", "test")
RATES = "0.8,1"
FAST_RTF = 0.1


def score(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """WER (diacritics folded) and exact-spelling WER over (reference, hypothesis) pairs."""
    out = {}
    for key, folded in (("wer", True), ("wer_exact", False)):
        errors = words = 0
        for reference, hypothesis in pairs:
            e, n = word_errors(reference, hypothesis, folded)
            errors, words = errors + e, words + n
        out[key] = errors / max(words, 1)
    return out


def human_wer(stt: str, language: str, limit: int) -> dict[str, float]:
    """The STT's WER on the core-sounds prompts of each split."""
    out: dict[str, float] = {}
    for split in SPLITS:
        names = spoken_prompts(language, split)[:limit]
        pairs = [(transcripts(language)[n], transcribe(stt, prompt_pcm16(n, language), language).text) for n in names]
        out[split] = score(pairs)["wer"]
    return out


class _Run:
    """Round trips of one voice at one rate: (reference, heard) pairs, first-audio times and real-time factors."""

    def __init__(self, tts: str, stt: str, voice: str, language: str, rate: float) -> None:
        self.tts, self.stt, self.voice, self.language, self.rate = tts, stt, voice, language, rate
        self.firsts: list[float] = []
        self.rtfs: list[float] = []

    def round_trips(self, texts: list[str]) -> list[tuple[str, str]]:
        pairs = []
        for text in texts:
            began = time.perf_counter()
            spoken = synthesize(self.tts, text, self.language, voice=self.voice, speaking_rate=self.rate)
            took = time.perf_counter() - began
            self.firsts.append(spoken.first_audio_s)
            self.rtfs.append(took / max(len(spoken.pcm) / 32000, 1e-3))
            pairs.append((text, transcribe(self.stt, spoken.pcm, self.language).text))
        return pairs


def bench_voice(tts: str, stt: str, voice: str, language: str, limit: int, rates: list[float]) -> dict[str, object]:
    """One voice in one language: its best rate on dev, then WER per split, first audio and real-time factor.

    Slower rates are tried (on dev only) for voices that synthesize in under a tenth of real time.
    """
    dev, test = sentences(language, "dev")[:limit], sentences(language, "test")[:limit]
    synthesize(tts, dev[0], language, voice=voice)  # warm this voice's path
    runs = {1.0: _Run(tts, stt, voice, language, 1.0)}
    by_rate = {1.0: score(runs[1.0].round_trips(dev))}
    if pct(runs[1.0].rtfs, 50) < FAST_RTF:
        for rate in sorted(set(rates) - {1.0}):
            runs[rate] = _Run(tts, stt, voice, language, rate)
            by_rate[rate] = score(runs[rate].round_trips(dev))
    rate = min(by_rate, key=lambda r: (by_rate[r]["wer"], -r))
    run = runs[rate]
    held_out = score(run.round_trips(test))
    return {
        "rate": rate,
        "dev_wer": by_rate[rate]["wer"],
        "dev_wer_exact": by_rate[rate]["wer_exact"],
        "dev_wer_by_rate": {f"{r:g}": round(s["wer"], 4) for r, s in sorted(by_rate.items())},
        "test_wer": held_out["wer"],
        "test_wer_exact": held_out["wer_exact"],
        "first_audio_p50_ms": pct(run.firsts, 50) * 1000,
        "first_audio_p95_ms": pct(run.firsts, 95) * 1000,
        "rtf_p50": pct(run.rtfs, 50),
    }


def table(results: dict) -> str:
    head = ("lang", "voice", "engine", "gender", "rate", "dev WER", "test WER", "test exact", "first p50 ms", "RTF", "")
    rows: list[tuple[str, ...]] = [head]
    ranked = policies(results)
    for language, entry in results["languages"].items():
        best = ranked[language].ranked[0].voice if language in ranked else ""
        ordered = sorted(entry["voices"], key=lambda v: (v["dev_wer"], v["first_audio_p50_ms"]))
        for v in ordered:
            rows.append(
                (
                    language,
                    v["voice"],
                    v["engine"],
                    v["gender"],
                    f"{v['rate']:g}",
                    f"{v['dev_wer']:.3f}",
                    f"{v['test_wer']:.3f}",
                    f"{v['test_wer_exact']:.3f}",
                    f"{v['first_audio_p50_ms']:.0f}",
                    f"{v['rtf_p50']:.3f}",
                    "default" if v["voice"] == best else "",
                )
            )
        human = entry.get("human_wer")
        if human is not None:
            human_test = f"{entry['human_wer_test']:.3f}"
            rows.append((language, "(human speech, core-sounds)", "stt", "", "", f"{human:.3f}", human_test))
    return report.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", default=",".join(SENTENCE_LANGUAGES), help="comma-separated languages")
    parser.add_argument("--engines", default="", help="only voices of these engines (comma-separated)")
    parser.add_argument("--voices", default="", help="only these voices (comma-separated)")
    parser.add_argument("--limit", type=int, default=1000, help="most sentences (and prompts) per split")
    parser.add_argument(
        "--rates",
        default=RATES,
        help="speaking rates tried on dev for fast voices (the TTS server time-scales its audio to each)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/voices.json"))
    parser.add_argument("--write-table", action="store_true", help=f"also write {TABLE} (full runs only)")
    parser.add_argument("--resume", action="store_true", help="keep the voices --out already holds, measure the rest")
    args = parser.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    engines = {e for e in args.engines.split(",") if e}
    only = {v for v in args.voices.split(",") if v}
    full = not (engines or only or args.limit < 1000 or args.rates != RATES)
    if args.write_table and not (full and set(languages) == set(SENTENCE_LANGUAGES)):
        parser.error("--write-table needs a full run: every language, engine and sentence")
    results: dict = {"machine": report.machine(), "languages": {}}
    if args.resume and args.out.exists():
        results["languages"] = json.loads(args.out.read_text(encoding="utf-8"))["languages"]
    with ExitStack() as stack:
        stt = stack.enter_context(running("stt_server"))
        tts = stack.enter_context(running("tts_server"))
        with channel(tts) as ch:
            voices = tts_pb2_grpc.TextToSpeechServiceStub(ch).ListVoices(tts_pb2.ListVoicesRequest()).voices
        for language in languages:
            entry: dict = results["languages"].setdefault(language, {"voices": []})
            done = {v["voice"] for v in entry["voices"]}
            if language in PROMPT_LANGUAGES and "human_wer" not in entry:
                human = human_wer(stt, language, args.limit)
                entry["human_wer"], entry["human_wer_test"] = human["dev"], human["test"]
            for voice in voices:
                if language not in voice.language_codes or (engines and voice.engine not in engines):
                    continue
                if (only and voice.name not in only) or voice.name in done:
                    continue
                row = {"voice": voice.name, "engine": voice.engine, "gender": voice.gender}
                rates = [float(r) for r in args.rates.split(",")]
                row.update(bench_voice(tts, stt, voice.name, language, args.limit, rates))
                print(f"{language} {voice.name}: dev WER {row['dev_wer']:.3f} at rate {row['rate']:g}", flush=True)
                entry["voices"].append(row)
                report.write(args.out, results)  # after every voice: a long run can be resumed
    print(table(results))
    report.write(args.out, results)
    if args.write_table:
        report.write(TABLE, {**results, "made_by": "python -m bench.voices --write-table"})


if __name__ == "__main__":
    main()
