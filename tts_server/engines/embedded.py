"""The embedded engine: piper, Kokoro and espeak-ng in one process, routed by voice."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np

from tts_server.engines.base import Synthesizer, Voice, VoiceChoice

log = logging.getLogger(__name__)

PREFERENCE = ("piper", "kokoro", "espeak")
"""Engines in the order a language's default voice is looked for."""


class EmbeddedSynthesizer:
    """Several synthesizers behind one voice list; each voice's own engine speaks it."""

    name = "embedded"

    def __init__(self, parts: list[Synthesizer], defaults: dict[str, str] | None = None) -> None:
        self._parts = {part.name: part for part in parts}
        self._voices = [voice for part in parts for voice in part.voices()]
        by_name = {voice.name: voice for voice in self._voices}
        self.defaults: dict[str, Voice] = {}
        rank = {engine: i for i, engine in enumerate(PREFERENCE)}
        for voice in sorted(self._voices, key=lambda v: rank.get(v.engine, len(rank))):
            for language in voice.languages:
                self.defaults.setdefault(language, voice)
        for language, name in (defaults or {}).items():
            chosen = by_name.get(name)
            if chosen is None or language not in chosen.languages:
                raise ValueError(f"default voice {name!r} for {language!r} is not a voice that speaks it")
            self.defaults[language] = chosen

    def default_voice(self, language: str) -> Voice | None:
        """The configured default, else the first voice of piper, Kokoro or espeak-ng (in that order) for it."""
        return self.defaults.get(language)

    def voices(self) -> list[Voice]:
        """Every voice of every part."""
        return list(self._voices)

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Hand the text to the engine of the chosen voice."""
        return self._parts[choice.voice.engine].synthesize(text, choice, language, region)

    def warm_up(self) -> None:
        """Warm up every part."""
        for part in self._parts.values():
            started = time.perf_counter()
            part.warm_up()
            log.info("warmed up %s in %.2f s", part.name, time.perf_counter() - started)
