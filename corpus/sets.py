"""Development and held-out sets: choose on "dev", report on "test".

Two sources, each split once and for all:
- sentences.tsv: 80 conversational sentences written in parallel in en, es, fr, de,
  it and pt for this project (odd ids dev, even ids test);
- Asterisk core-sounds prompts (real speech, professional translations between en,
  es, fr and it), split by a hash of the prompt name.
"""

from __future__ import annotations

import csv
import re
import zlib
from functools import cache
from pathlib import Path
from typing import Literal

from corpus import SOUNDS, transcripts

Split = Literal["dev", "test"]
SENTENCES = Path(__file__).with_name("sentences.tsv")
SENTENCE_LANGUAGES = ("en", "es", "fr", "de", "it", "pt")
PROMPT_LANGUAGES = ("en", "es", "fr", "it")
_PLAIN = re.compile(r"^[^\[\]()0-9#*]+$")
"""A transcript that is only words: no tone descriptions, digits or keys."""


@cache
def _rows() -> list[dict[str, str]]:
    with SENTENCES.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def sentences(language: str, split: Split) -> list[str]:
    """The parallel sentences of one split in one language."""
    return [row[language] for row in _rows() if row["split"] == split]


def sentence_pairs(source: str, target: str, split: Split) -> list[tuple[str, str]]:
    """(source, reference translation) pairs from the parallel sentences (none for other languages)."""
    if not {source, target} <= set(SENTENCE_LANGUAGES):
        return []
    return [(row[source], row[target]) for row in _rows() if row["split"] == split]


def prompt_split(name: str) -> Split:
    """Which split a core-sounds prompt belongs to (a fixed hash of its name)."""
    return "dev" if zlib.crc32(name.encode()) % 2 == 0 else "test"


def _plain(text: str) -> bool:
    return bool(_PLAIN.match(text)) and len(text.split()) >= 2


def spoken_prompts(language: str, split: Split) -> list[str]:
    """Prompt names of one split whose recording exists and whose transcript is plain words."""
    return sorted(
        name
        for name, text in transcripts(language).items()
        if prompt_split(name) == split and _plain(text) and (SOUNDS / language / f"{name}.g722").exists()
    )


def prompt_pairs(source: str, target: str, split: Split) -> list[tuple[str, str]]:
    """(source transcript, target transcript) of the prompts both languages have, in one split."""
    src, tgt = transcripts(source), transcripts(target)
    return [
        (src[name], tgt[name])
        for name in sorted(src.keys() & tgt.keys())
        if prompt_split(name) == split and _plain(src[name]) and _plain(tgt[name])
    ]


def translation_pairs(source: str, target: str, split: Split) -> list[tuple[str, str]]:
    """Every (source, reference) pair for a direction: core-sounds prompts where both have them, then sentences."""
    prompts = prompt_pairs(source, target, split) if {source, target} <= set(PROMPT_LANGUAGES) else []
    return prompts + sentence_pairs(source, target, split)
