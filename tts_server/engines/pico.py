"""SVOX Pico through its C API (ctypes): six 16 kHz voices, audio streamed as it is made.

tts_server/install unpacks Debian's libttspico0 and its lingware into
.state/voices/tree. Each voice is one Pico system (its own memory area) with one
engine, loaded with the language's text-analysis and signal-generation
resources; an engine speaks one text at a time, so each voice has a lock. Rate
and pitch are Pico's own markup (<speed>, <pitch>, in percent of the voice's).
"""

from __future__ import annotations

import ctypes
import html
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tts_server.engines.base import Voice, VoiceChoice
from tts_server.engines.espeak_lib import voices_home

RATE = 16000
VOICES = {"en-US": "lh0", "en-GB": "kh0", "de-DE": "gl0", "es-ES": "zl0", "fr-FR": "nk0", "it-IT": "cm0"}
"""Pico language -> its signal-generation (speaker) resource; every Pico voice is female."""
MEMORY = 2_500_000
"""Bytes of working memory per Pico system (what pico2wave uses)."""
_STEP_BUSY = 201
_OUT_BYTES = 1024
_PUT_BYTES = 4096
CHUNK_SAMPLES = RATE // 5
"""Audio is yielded in runs of at least this many samples (200 ms)..."""
FIRST_SAMPLES = RATE // 50
"""...but the first run as soon as it holds one 20 ms frame."""
_LIMITS = {"speed": (20, 500), "pitch": (50, 200)}


def lingware() -> Path:
    """Where the Pico language files are."""
    return voices_home() / "tree" / "usr" / "share" / "pico" / "lang"


def library() -> Path:
    """The unpacked libttspico."""
    return voices_home() / "tree" / "usr" / "lib" / "x86_64-linux-gnu" / "libttspico.so.0"


def markup(text: str, rate: float, pitch: float) -> str:
    """Text escaped for Pico's XML markup, inside <speed>/<pitch> tags when they differ from 100%."""
    out = html.escape(text, quote=False)
    for tag, ratio in (("pitch", pitch), ("speed", rate)):
        level = round(100 * ratio)
        if level != 100:
            low, high = _LIMITS[tag]
            out = f'<{tag} level="{min(high, max(low, level))}">{out}</{tag}>'
    return out


class _PicoVoice:
    """One Pico system and engine speaking one language."""

    def __init__(self, lib: ctypes.CDLL, language: str, speaker: str) -> None:
        self._lib = lib
        self._memory = ctypes.create_string_buffer(MEMORY)
        self._system = ctypes.c_void_p()
        self._engine = ctypes.c_void_p()
        self.lock = threading.Lock()
        self._check(lib.pico_initialize(self._memory, MEMORY, ctypes.byref(self._system)), "initialize")
        name = f"lingua-{language}".encode()
        self._check(lib.pico_createVoiceDefinition(self._system, name), "createVoiceDefinition")
        for kind in ("ta", f"{speaker}_sg"):
            path = lingware() / f"{language}_{kind}.bin"
            resource = ctypes.c_void_p()
            self._check(lib.pico_loadResource(self._system, str(path).encode(), ctypes.byref(resource)), str(path))
            resource_name = ctypes.create_string_buffer(64)
            self._check(lib.pico_getResourceName(self._system, resource, resource_name), "getResourceName")
            self._check(lib.pico_addResourceToVoiceDefinition(self._system, name, resource_name.value), "addResource")
        self._check(lib.pico_newEngine(self._system, name, ctypes.byref(self._engine)), "newEngine")

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"SVOX Pico {what} failed with status {status}")

    def speak(self, text: str) -> Iterator[np.ndarray]:
        """Yield int16 audio as the engine makes it (call under the lock)."""
        data = text.encode("utf-8") + b"\0"
        out = ctypes.create_string_buffer(_OUT_BYTES)
        received, kind, put = ctypes.c_int16(), ctypes.c_int16(), ctypes.c_int16()
        sent = 0
        try:
            while sent < len(data):
                piece = data[sent : sent + _PUT_BYTES]
                self._check(self._lib.pico_putTextUtf8(self._engine, piece, len(piece), ctypes.byref(put)), "putText")
                sent += put.value
                while True:
                    status = self._lib.pico_getData(
                        self._engine, out, _OUT_BYTES, ctypes.byref(received), ctypes.byref(kind)
                    )
                    if received.value:
                        yield np.frombuffer(out.raw[: received.value], dtype="<i2").copy()
                    if status != _STEP_BUSY:
                        break
        finally:
            self._lib.pico_resetEngine(self._engine, 0)  # PICO_RESET_FULL: drop what a stopped caller left


class PicoSynthesizer:
    """The SVOX Pico voices (pico-en-US, pico-es-ES, ...), each speaking its own language."""

    name = "pico"

    def __init__(self) -> None:
        if not library().exists():
            raise RuntimeError(f"SVOX Pico is not installed ({library()}); run scripts/setup (tts_server/install)")
        lib = ctypes.CDLL(str(library()))
        self._speakers = {f"pico-{lang}": _PicoVoice(lib, lang, speaker) for lang, speaker in VOICES.items()}
        self._voices = [
            Voice(name, self.name, frozenset({name.split("-")[1]}), RATE, gender="female", native_pitch=True)
            for name in self._speakers
        ]

    def voices(self) -> list[Voice]:
        """One voice per Pico language."""
        return list(self._voices)

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Yield float32 runs of at least 200 ms (the first as soon as Pico has a frame of audio)."""
        speaker = self._speakers[choice.voice.name]
        pending: list[np.ndarray] = []
        count = 0
        first = True
        with speaker.lock:
            for samples in speaker.speak(markup(text, choice.rate, choice.pitch)):
                pending.append(samples)
                count += len(samples)
                if count >= (FIRST_SAMPLES if first else CHUNK_SAMPLES):
                    yield np.concatenate(pending).astype(np.float32) / 32768.0
                    pending, count, first = [], 0, False
        if pending:
            yield np.concatenate(pending).astype(np.float32) / 32768.0

    def warm_up(self) -> None:
        """Speak a phrase with every voice."""
        for voice in self._voices:
            for _ in self.synthesize("Hello.", VoiceChoice(voice), next(iter(voice.languages))):
                pass
