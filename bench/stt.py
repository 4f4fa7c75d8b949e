"""Speech-to-text accuracy on real speech, per language and English model, and language detection.

    .venv/bin/python -m bench.stt [--limit N]

Core-sounds prompts (plain-word transcripts, en/es/fr/it) of the dev and held-out
splits are streamed to the STT server with their language set; WER is scored with
diacritics folded (and kept exact beside it), plus the mean time from the end of the
audio to the final. English runs twice: on Whisper base and on tiny.en
(--english-model). Detection: the dev prompts of each language with language
"auto", once unrestricted (--detect-languages "") and once restricted to the
conference's languages (the server default); it counts prompts detected wrongly.
Prints a table, writes bench/results/stt.json.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from bench import report
from bench.report import pct
from clients.launch import running
from clients.speech import transcribe
from corpus import prompt_pcm16, transcripts, word_errors
from corpus.sets import PROMPT_LANGUAGES, Split, spoken_prompts

SPLITS: tuple[Split, ...] = ("dev", "test")


def accuracy(address: str, language: str, split: Split, limit: int) -> dict[str, float]:
    """WER (folded and exact) and end-of-audio -> final time over one split's prompts."""
    folded = exact = words = 0
    waits = []
    for name in spoken_prompts(language, split)[:limit]:
        result = transcribe(address, prompt_pcm16(name, language), language)
        e, n = word_errors(transcripts(language)[name], result.text, folded=True)
        folded, words = folded + e, words + n
        exact += word_errors(transcripts(language)[name], result.text)[0]
        if result.finals:
            waits.append(result.last_final_at() - result.audio_end)
    return {"wer": folded / max(words, 1), "wer_exact": exact / max(words, 1), "final_p50_ms": pct(waits, 50) * 1000}


def detection(address: str, limit: int) -> dict[str, dict[str, object]]:
    """Per language: prompts detected as another language, and what they were taken for."""
    out: dict[str, dict[str, object]] = {}
    for language in PROMPT_LANGUAGES:
        names = spoken_prompts(language, "dev")[:limit]
        seen: Counter[str] = Counter()
        for name in names:
            finals = transcribe(address, prompt_pcm16(name, language), "auto").finals
            seen[finals[0].language_code if finals else "none"] += 1
        wrong = sum(count for code, count in seen.items() if code != language)
        out[language] = {"prompts": len(names), "wrong": wrong, "taken_for": dict(seen.most_common())}
    return out


def table(results: dict) -> str:
    rows = [("language", "model", "dev WER", "test WER", "test exact", "final p50 ms")]
    for key, r in results["accuracy"].items():
        language, model = key.split("/")
        rows.append(
            (
                language,
                model,
                f"{r['dev']['wer']:.3f}",
                f"{r['test']['wer']:.3f}",
                f"{r['test']['wer_exact']:.3f}",
                f"{r['test']['final_p50_ms']:.0f}",
            )
        )
    rows.append(("", "", "", "", "", ""))
    rows.append(("detection (dev)", "unrestricted", "restricted", "", "", ""))
    for language in PROMPT_LANGUAGES:
        free, limited = results["detection"]["unrestricted"][language], results["detection"]["restricted"][language]
        rows.append(
            (
                language,
                f"{free['wrong']}/{free['prompts']} wrong",
                f"{limited['wrong']}/{limited['prompts']} wrong",
                "",
                "",
                "",
            )
        )
    return report.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1000, help="most prompts per language and split")
    parser.add_argument("--out", type=Path, default=Path("bench/results/stt.json"))
    args = parser.parse_args()
    results: dict = {"machine": report.machine(), "accuracy": {}}
    with running("stt_server", "--english-model", "base", "--detect-languages", "") as base:
        for language in PROMPT_LANGUAGES:
            results["accuracy"][f"{language}/base"] = {s: accuracy(base, language, s, args.limit) for s in SPLITS}
        unrestricted = detection(base, args.limit)
    with running("stt_server", "--english-model", "tiny.en") as tiny:
        results["accuracy"]["en/tiny.en"] = {s: accuracy(tiny, "en", s, args.limit) for s in SPLITS}
        restricted = detection(tiny, args.limit)
    results["detection"] = {"unrestricted": unrestricted, "restricted": restricted}
    print(table(results))
    report.write(args.out, results)


if __name__ == "__main__":
    main()
