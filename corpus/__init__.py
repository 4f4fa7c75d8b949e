"""Real human speech for tests, benchmarks and demos: Asterisk's core sounds.

Debian's asterisk-core-sounds-LANG(-g722) packages ship professionally read
prompts with their transcripts; the g722 files are 16 kHz.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np

from common.audio import g722_file

SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")


@cache
def transcripts(lang: str = "en") -> dict[str, str]:
    """Prompt name -> transcript, from core-sounds-LANG.txt.gz."""
    path = DOCS / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
    out: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, sep, text = line.partition(":")
            if sep and not line.startswith(";") and text.strip():
                out[name.strip()] = text.strip()
    return out


def prompt_pcm16(name: str, lang: str = "en") -> bytes:
    """A prompt as 16 kHz LINEAR16 bytes, decoded from its g722 file."""
    return g722_file(SOUNDS / lang / f"{name}.g722")


def prompt_float(name: str, lang: str = "en") -> np.ndarray:
    """A prompt as 16 kHz float32 samples."""
    return np.frombuffer(prompt_pcm16(name, lang), dtype="<i2").astype(np.float32) / 32768.0


def fold(text: str) -> str:
    """Text without diacritics ("está" -> "esta"): for scores where accents are spelling, not speech."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize(text: str, folded: bool = False) -> list[str]:
    """Lower-case words without punctuation (and without diacritics if folded), for scoring."""
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", text.lower())
    return re.findall(r"[\w']+", fold(text) if folded else text)


def word_errors(reference: str, hypothesis: str, folded: bool = False) -> tuple[int, int]:
    """(edit distance in words, reference word count)."""
    ref, hyp = normalize(reference, folded), normalize(hypothesis, folded)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)], len(ref)


def wer(reference: str, hypothesis: str, folded: bool = False) -> float:
    """Word error rate of one hypothesis."""
    errors, words = word_errors(reference, hypothesis, folded)
    return errors / max(words, 1)


# Prompts with a plain spoken transcript (no tones, digits or spelled letters),
# used for word error rate and translation round trips.
EN_SET = (
    "agent-loginok",
    "all-circuits-busy-now",
    "auth-incorrect",
    "conf-onlyperson",
    "conf-getpin",
    "conf-locked",
    "pbx-invalid",
    "vm-goodbye",
    "vm-nobodyavail",
    "vm-intro",
    "vm-theperson",
    "vm-isunavail",
    "queue-thankyou",
    "privacy-unident",
    "conf-kicked",
    "vm-incorrect",
    "vm-toreply",
    "vm-saveoper",
    "demo-thanks",
    "pbx-transfer",
)
