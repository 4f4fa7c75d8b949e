"""espeak-ng through ctypes (the library and data that espeakng-loader ships), for any language."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import espeakng_loader
import numpy as np

from tts_server.engines.base import Voice, VoiceChoice

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: espeak_Synth returns when done, audio goes to the callback
_DONT_EXIT = 0x8000  # espeakINITIALIZE_DONT_EXIT: report errors instead of exiting the process
_CHARS_UTF8 = 1
_BUFFER_MS = 200
_RATE_WPM = 170

VARIANTS = {"espeak-male": "", "espeak-female": "+f3"}
"""Voice name -> espeak-ng variant suffix."""


class _EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class _Language:
    identifier: str
    """The espeak-ng voice that speaks it ("gmw/en-US", "sit/cmn")."""
    priority: int
    """Lower is a better match for the tag."""


def primary(tag: str) -> str:
    """Primary subtag of a lower-case language tag."""
    return tag.split("-")[0]


class EspeakSynthesizer:
    """espeak-ng formant synthesis: robotic but fast, and speaks over a hundred languages."""

    name = "espeak"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        self._lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        self.rate = self._lib.espeak_Initialize(_SYNCHRONOUS, _BUFFER_MS, data, _DONT_EXIT)
        if self.rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialize with data at {data.decode()}")
        self._chunks: list[np.ndarray] = []
        self._callback = _Callback(self._collect)  # keep a reference: the library holds only the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self._languages = self._list_languages()
        languages = frozenset(primary(tag) for tag in self._languages)
        self._voices = [Voice(name, self.name, languages, self.rate) for name in VARIANTS]

    def _list_languages(self) -> dict[str, _Language]:
        """Every language tag in espeak-ng's voice list -> the best voice language for it."""
        found: dict[str, _Language] = {}
        voices = self._lib.espeak_ListVoices(None)
        i = 0
        while voices[i]:
            entry = voices[i].contents
            identifier = entry.identifier.decode()
            address = entry.languages
            # languages is a run of (priority byte, NUL-terminated tag), ended by a zero priority.
            while priority := ctypes.c_ubyte.from_address(address).value:
                tag = ctypes.string_at(address + 1).decode().lower()
                address += len(tag) + 2
                if not (primary(tag).isalpha() and len(primary(tag)) in (2, 3)):
                    continue
                for key in {tag, primary(tag)}:
                    best = found.get(key)
                    if best is None or priority < best.priority:
                        found[key] = _Language(identifier, priority)
            i += 1
        return found

    def voices(self) -> list[Voice]:
        """A male and a female variant, each speaking every espeak-ng language."""
        return list(self._voices)

    def voice_identifier(self, language: str, region: str = "") -> str:
        """The espeak-ng voice for a region tag ("pt-br") if it has one, else for the primary subtag."""
        entry = self._languages.get(region) or self._languages[language]
        return entry.identifier

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: int | None) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).astype(np.float32) / 32768.0)
        return 0

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Speak text in one go (espeak-ng runs far faster than real time) and yield the audio."""
        name = (self.voice_identifier(language, region) + VARIANTS[choice.voice.name]).encode()
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks = []
            if self._lib.espeak_SetVoiceByName(name) != 0:
                raise RuntimeError(f"espeak-ng has no voice {name.decode()!r}")
            self._lib.espeak_SetParameter(1, _RATE_WPM, 0)  # espeakRATE
            self._lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
            chunks, self._chunks = self._chunks, []
        if chunks:
            yield np.concatenate(chunks)

    def warm_up(self) -> None:
        """Speak a phrase with each variant."""
        for voice in self._voices:
            for _ in self.synthesize("Warming up.", VoiceChoice(voice), "en"):
                pass
