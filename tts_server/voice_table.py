"""The measured voice table (tts_server/voices.json, written by `python -m bench.voices`) and the choices it makes.

For each language the table holds, per voice, the round-trip word error rate
(synthesize, transcribe back with the STT server) on the development and the
held-out sentences, and the first-audio time. Defaults and the voices a profile
may be matched to are chosen on the development figures only; the held-out
figures are what the README reports.

A voice is *good* for a language when its dev WER is at most the bar (0.10, or
the STT's own WER on human speech of that language where that is higher) and its
first audio p50 is at most 100 ms. The default is the good voice with the lowest
dev WER; with none good, the fast one (first audio within the bar) with the lowest
dev WER, since a listener in a conversation cannot wait a second for every
sentence; with none fast either, the voice with the lowest dev WER. Each voice
speaks at the rate that gave its lowest dev WER.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("voices.json")
WER_BAR = 0.10
FIRST_AUDIO_BAR_MS = 100.0


@dataclass(frozen=True)
class Measured:
    """One voice's figures in one language."""

    voice: str
    engine: str
    rate: float
    """The speaking rate it was measured at (the best on dev): the voice's default rate."""
    dev_wer: float
    first_audio_ms: float


@dataclass(frozen=True)
class Policy:
    """What the table says for one language: voices by preference, and which are good."""

    ranked: tuple[Measured, ...]
    bar: float

    def good(self, measured: Measured) -> bool:
        """Whether a voice meets the WER and first-audio bars."""
        return measured.dev_wer <= self.bar and fast(measured)


def fast(measured: Measured) -> bool:
    """Whether a voice's first audio is within the bar."""
    return measured.first_audio_ms <= FIRST_AUDIO_BAR_MS


def _rank(rows: list[Measured], bar: float) -> tuple[Measured, ...]:
    policy = Policy((), bar)
    return tuple(sorted(rows, key=lambda m: (not policy.good(m), not fast(m), m.dev_wer, m.first_audio_ms, m.voice)))


def load(path: Path = TABLE) -> dict[str, Policy]:
    """Language -> its policy; empty when there is no table."""
    if not path.exists():
        return {}
    return policies(json.loads(path.read_text(encoding="utf-8")))


def policies(data: dict[str, Any]) -> dict[str, Policy]:
    """Language -> its policy, from the table's parsed JSON."""
    out = {}
    for language, entry in data["languages"].items():
        bar = max(WER_BAR, entry.get("human_wer") or 0.0)
        rows = [
            Measured(v["voice"], v["engine"], v.get("rate", 1.0), v["dev_wer"], v["first_audio_p50_ms"])
            for v in entry["voices"]
        ]
        out[language] = Policy(_rank(rows, bar), bar)
    return out


def default(policy: Policy, offered: set[str], engine: str = "") -> str | None:
    """The best offered voice (of one engine, if named) by the table, or None."""
    for measured in policy.ranked:
        if measured.voice in offered and engine in ("", measured.engine):
            return measured.voice
    return None


def rates(policy: Policy) -> dict[str, float]:
    """Voice -> the speaking rate it was measured best at."""
    return {m.voice: m.rate for m in policy.ranked}


def matchable(policy: Policy, offered: set[str], engine: str = "") -> list[str]:
    """Voices a profile may be matched to: the good offered ones (of the engine, if named), else the default."""
    pool = [m for m in policy.ranked if m.voice in offered and engine in ("", m.engine)]
    good = [m.voice for m in pool if policy.good(m)]
    return good or [m.voice for m in pool[:1]]
