"""The embedded engine: Pico, MBROLA, Piper, Kokoro and espeak-ng in one process, routed by voice.

Each language's default voice, and the voices a profile may be matched to, come
from the measured voice table (tts_server.voice_table); languages the table does
not cover fall back to the first voice of PREFERENCE that speaks them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np

from tts_server import voice_table
from tts_server.engines.base import Synthesizer, Voice, VoiceChoice

log = logging.getLogger(__name__)

PREFERENCE = ("pico", "piper", "kokoro", "mbrola", "espeak")
"""Engines in the order a default voice is looked for where the table has no figures."""


class EmbeddedSynthesizer:
    """Several synthesizers behind one voice list; each voice's own engine speaks it."""

    name = "embedded"

    def __init__(
        self,
        parts: list[Synthesizer],
        defaults: dict[str, str] | None = None,
        engine: str = "",
        table: dict[str, voice_table.Policy] | None = None,
    ) -> None:
        """defaults: language -> voice overrides; engine: prefer that engine's best-measured voice everywhere."""
        self._parts = {part.name: part for part in parts}
        if engine and engine not in self._parts:
            raise ValueError(f"--default-voices names engine {engine!r}; engines: {', '.join(self._parts)}")
        self._voices = [voice for part in parts for voice in part.voices()]
        by_name = {voice.name: voice for voice in self._voices}
        policies = voice_table.load() if table is None else table
        offered = set(by_name)
        self.defaults: dict[str, Voice] = {}
        self._candidates: dict[str, list[Voice]] = {}
        self._rates = {(v, lang): r for lang, p in policies.items() for v, r in voice_table.rates(p).items()}
        rank = {name: i for i, name in enumerate(PREFERENCE)}
        for voice in sorted(self._voices, key=lambda v: (v.engine != engine, rank.get(v.engine, len(rank)))):
            for language in voice.languages:
                self.defaults.setdefault(language, voice)
        for language, policy in policies.items():
            measured = voice_table.default(policy, offered, engine)
            if measured is not None:
                self.defaults[language] = by_name[measured]
                self._candidates[language] = [by_name[n] for n in voice_table.matchable(policy, offered, engine)]
        for language, name in (defaults or {}).items():
            chosen = by_name.get(name)
            if chosen is None or language not in chosen.languages:
                raise ValueError(f"default voice {name!r} for {language!r} is not a voice that speaks it")
            self.defaults[language] = chosen
            self._candidates[language] = [chosen]

    def default_voice(self, language: str) -> Voice | None:
        """The configured default, else the measured best, else the first voice of PREFERENCE for it."""
        return self.defaults.get(language)

    def candidates(self, language: str) -> list[Voice]:
        """Voices a profile may be matched to in language: the measured good ones, else the default."""
        if language in self._candidates:
            return list(self._candidates[language])
        default = self.defaults.get(language)
        return [default] if default else []

    def base_rate(self, voice: Voice, language: str) -> float:
        """The speaking rate the voice was measured best at in language (1.0 if unmeasured)."""
        return self._rates.get((voice.name, language), 1.0)

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
