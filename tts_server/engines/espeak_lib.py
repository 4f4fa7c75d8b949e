"""espeak-ng through ctypes: Debian's libespeak-ng with a data folder that also holds MBROLA voices.

tts_server/install links the system's espeak-ng data (Debian espeak-ng-data) and
the MBROLA diphone databases into .state/voices/espeak-ng-data, and unpacks the
mbrola binary, which espeak-ng runs as a child process for mb-* voices. espeak-ng
keeps one global synthesizer per process, so every call holds one lock.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.paths import state_dir

LIBRARY = "/usr/lib/x86_64-linux-gnu/libespeak-ng.so.1"
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: espeak_Synth returns when done, audio goes to the callback
_DONT_EXIT = 0x8000  # espeakINITIALIZE_DONT_EXIT: report errors instead of exiting the process
_CHARS_UTF8 = 1
_BUFFER_MS = 200
_RATE = 1  # espeakRATE
BASE_WPM = 170
"""Words per minute at speaking rate 1.0."""

_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


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


@dataclass(frozen=True)
class VoiceFile:
    """An espeak-ng voice definition: identifier ("gmw/en-US", "mb/mb-br1"), language tags and gender."""

    identifier: str
    languages: tuple[tuple[str, int], ...]
    """(lower-case tag, priority): lower priority is a better match."""
    gender: str


def voices_home() -> Path:
    """The folder holding espeak-ng-data (with MBROLA voices) and the unpacked tree: .state/voices."""
    return state_dir() / "voices"


def primary(tag: str) -> str:
    """Primary subtag of a lower-case language tag."""
    return tag.split("-")[0]


class Espeak:
    """The process's espeak-ng: voice listing and synthesis of one text at a time."""

    _instance: Espeak | None = None
    _create = threading.Lock()

    @classmethod
    def shared(cls) -> Espeak:
        """The one instance (espeak-ng has global state)."""
        with cls._create:
            if cls._instance is None:
                cls._instance = cls(voices_home())
            return cls._instance

    def __init__(self, home: Path) -> None:
        data = home / "espeak-ng-data"
        if not (data / "voices").is_dir() or not Path(LIBRARY).exists():
            raise RuntimeError(
                f"espeak-ng with MBROLA voices is not installed ({data}, {LIBRARY}); "
                "run scripts/setup (Debian espeak-ng-data, then tts_server/install)"
            )
        mbrola_bin = home / "tree" / "usr" / "bin"
        os.environ["PATH"] = f"{mbrola_bin}{os.pathsep}{os.environ.get('PATH', '')}"  # espeak-ng runs `mbrola`
        self.data = data
        self._lock = threading.Lock()
        lib = ctypes.CDLL(LIBRARY)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._lib = lib
        if lib.espeak_Initialize(_SYNCHRONOUS, _BUFFER_MS, str(home).encode(), _DONT_EXIT) <= 0:
            raise RuntimeError(f"espeak-ng failed to initialize with data at {data}")
        self._chunks: list[np.ndarray] = []
        self._callback = _Callback(self._collect)  # keep a reference: the library holds only the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def list_voices(self) -> list[VoiceFile]:
        """espeak-ng's own voices (MBROLA voices are not listed by the library)."""
        found = []
        voices = self._lib.espeak_ListVoices(None)
        i = 0
        while voices[i]:
            entry = voices[i].contents
            address = entry.languages
            tags = []
            # languages is a run of (priority byte, NUL-terminated tag), ended by a zero priority.
            while priority := ctypes.c_ubyte.from_address(address).value:
                tag = ctypes.string_at(address + 1).decode().lower()
                address += len(tag) + 2
                tags.append((tag, priority))
            gender = {1: "male", 2: "female"}.get(entry.gender, "")
            found.append(VoiceFile(entry.identifier.decode(), tuple(tags), gender))
            i += 1
        return found

    def mbrola_voices(self) -> list[VoiceFile]:
        """The mb-* voice definitions whose MBROLA database is installed."""
        found = []
        for path in sorted((self.data / "voices" / "mb").glob("mb-*")):
            fields = [line.split() for line in path.read_text(errors="replace").splitlines() if line.strip()]
            database = next((f[1] for f in fields if f[0] == "mbrola" and len(f) > 1), "")
            if path.name != f"mb-{database}" or not (self.data / "mbrola" / database).exists():
                continue  # not installed, or a variant reading another language ("mb-de1-en")
            tags = tuple((f[1].lower(), int(f[2]) if len(f) > 2 else 5) for f in fields if f[0] == "language")
            gender = next((f[1] for f in fields if f[0] == "gender" and len(f) > 1), "")
            found.append(VoiceFile(f"mb/{path.name}", tags, gender))
        return found

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: int | None) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).astype(np.float32) / 32768.0)
        return 0

    def synthesize(self, voice: str, text: str, rate: float = 1.0) -> tuple[np.ndarray, int]:
        """Speak text with the named voice ("en-us+f3", "mb-br1"): (float32 audio, its sample rate)."""
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks = []
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise RuntimeError(f"espeak-ng cannot load voice {voice!r}")
            self._lib.espeak_SetParameter(_RATE, round(BASE_WPM * rate), 0)
            self._lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
            chunks, self._chunks = self._chunks, []
            sample_rate = int(self._lib.espeak_ng_GetSampleRate())
        return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), sample_rate
