"""espeak-ng's formant voices (any language) and its MBROLA diphone voices (mbrola-br1, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tts_server.engines.base import Voice, VoiceChoice
from tts_server.engines.espeak_lib import Espeak, VoiceFile, primary

VARIANTS = {"espeak-male": ("", "male"), "espeak-female": ("+f3", "female")}
"""Voice name -> (espeak-ng variant suffix, gender)."""
MBROLA_PREFIX = "mbrola-"


@dataclass(frozen=True)
class _Language:
    identifier: str
    """The espeak-ng voice that speaks it ("gmw/en-US", "sit/cmn")."""
    priority: int
    """Lower is a better match for the tag."""


def _best_languages(files: list[VoiceFile]) -> dict[str, _Language]:
    """Every language tag (and its primary subtag) -> the best-matching voice definition."""
    found: dict[str, _Language] = {}
    for file in files:
        for tag, priority in file.languages:
            if not (primary(tag).isalpha() and len(primary(tag)) in (2, 3)):
                continue
            for key in {tag, primary(tag)}:
                best = found.get(key)
                if best is None or priority < best.priority:
                    found[key] = _Language(file.identifier, priority)
    return found


class EspeakSynthesizer:
    """espeak-ng formant synthesis: robotic but fast, and speaks over a hundred languages."""

    name = "espeak"

    def __init__(self) -> None:
        self._espeak = Espeak.shared()
        self._languages = _best_languages(self._espeak.list_voices())
        languages = frozenset(primary(tag) for tag in self._languages)
        _, rate = self._espeak.synthesize(self.voice_identifier("en"), "a")
        self._voices = [Voice(name, self.name, languages, rate, gender=g) for name, (_, g) in VARIANTS.items()]

    def voices(self) -> list[Voice]:
        """A male and a female variant, each speaking every espeak-ng language."""
        return list(self._voices)

    def voice_identifier(self, language: str, region: str = "") -> str:
        """The espeak-ng voice for a region tag ("pt-br") if it has one, else for the primary subtag."""
        entry = self._languages.get(region) or self._languages[language]
        return entry.identifier

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Speak text in one go (espeak-ng runs far faster than real time) and yield the audio."""
        variant, _ = VARIANTS[choice.voice.name]
        audio, _ = self._espeak.synthesize(self.voice_identifier(language, region) + variant, text, choice.rate)
        if len(audio):
            yield audio

    def warm_up(self) -> None:
        """Speak a phrase with each variant."""
        for voice in self._voices:
            for _ in self.synthesize("Warming up.", VoiceChoice(voice), "en"):
                pass


class MbrolaSynthesizer:
    """MBROLA diphone voices driven by espeak-ng: one voice per installed database, in its own language."""

    name = "mbrola"

    def __init__(self) -> None:
        self._espeak = Espeak.shared()
        self._voices: list[Voice] = []
        self._definitions: dict[str, str] = {}
        for file in self._espeak.mbrola_voices():
            name = MBROLA_PREFIX + file.identifier.removeprefix("mb/mb-")
            languages = frozenset(primary(tag) for tag, _ in file.languages)
            _, rate = self._espeak.synthesize(file.identifier.removeprefix("mb/"), "a")
            self._definitions[name] = file.identifier.removeprefix("mb/")
            self._voices.append(Voice(name, self.name, languages, rate, gender=file.gender))

    def voices(self) -> list[Voice]:
        """The installed MBROLA voices."""
        return list(self._voices)

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Speak text in one go and yield the audio."""
        audio, _ = self._espeak.synthesize(self._definitions[choice.voice.name], text, choice.rate)
        if len(audio):
            yield audio

    def warm_up(self) -> None:
        """Start each voice's mbrola process once."""
        for voice in self._voices:
            for _ in self.synthesize("a.", VoiceChoice(voice), next(iter(voice.languages))):
                pass
