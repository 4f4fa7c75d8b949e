"""The synthesizer interface: named voices in, float audio chunks out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import onnxruntime as ort


@dataclass(frozen=True)
class Voice:
    """A named voice an engine offers."""

    name: str
    engine: str
    languages: frozenset[str]
    """Primary language subtags it speaks ("en", "es", "cmn" ...)."""
    sample_rate: int
    """Rate of the audio the engine produces for it."""
    blendable: bool = False
    """Whether its style can be mixed with other voices of the same engine."""
    clone_key: str = ""
    """For a voice cloned from a profile at run time: the engine's key of its conditioning; "" otherwise."""
    gender: str = ""
    """"female", "male", or "" when unknown."""
    native_pitch: bool = False
    """Whether the engine applies VoiceChoice.pitch itself; otherwise the service shifts the audio."""


@dataclass(frozen=True)
class VoiceChoice:
    """What a stream speaks with: one voice, or a weighted blend of blendable voices."""

    voice: Voice
    """The voice itself, or the heaviest voice of a blend."""
    mix: tuple[tuple[Voice, float], ...] = ()
    """For a blend: each voice and its weight (weights sum to 1)."""
    rate: float = 1.0
    """Speaking rate: 1.0 is the voice's own, 2.0 twice as fast."""
    pitch: float = 1.0
    """Pitch (F0) as a ratio to the voice's own."""
    formant: float = 1.0
    """Formant (timbre) shift ratio, below 1 for a longer vocal tract; applied to the audio by the service."""

    @property
    def shifted(self) -> bool:
        """Whether the service must shift the engine's audio (formants, or pitch the engine cannot set)."""
        return self.formant != 1.0 or (self.pitch != 1.0 and not self.voice.native_pitch)

    @property
    def label(self) -> str:
        """Name to report: the voice name, or the blend as name*weight+... ."""
        if not self.mix:
            return self.voice.name
        return "+".join(f"{v.name}*{w:.2f}" for v, w in self.mix)


class Synthesizer(Protocol):
    """One engine: its voices, and synthesis of short text pieces."""

    name: str

    def voices(self) -> list[Voice]:
        """Every voice the engine offers."""
        ...

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Speak text (a sentence or clause) in language; yield float32 chunks at the voice's rate.

        region is the lower-case BCP-47 tag the client asked for ("pt-br"), for
        engines that have regional variants; language is its primary subtag.
        Safe to call from several threads at once.
        """
        ...

    def warm_up(self) -> None:
        """Run the models once so the first request is fast."""
        ...


class Engine(Synthesizer, Protocol):
    """What the service runs: a synthesizer that also knows each language's default voice."""

    def default_voice(self, language: str) -> Voice | None:
        """The voice to use when a stream names none; None if no voice speaks the language."""
        ...

    def candidates(self, language: str) -> list[Voice]:
        """The voices a voice profile may be matched to in language (best first)."""
        ...

    def base_rate(self, voice: Voice, language: str) -> float:
        """The voice's own speaking rate in language (1.0 is the engine's normal rate)."""
        ...


@runtime_checkable
class Cloner(Protocol):
    """An engine that clones a profile's own voice from its enrollment audio (instead of matching a voice)."""

    def cloned(self, profile_id: str, version: str) -> Voice | None:
        """The voice cloned from this enrollment (version: its create time) if already conditioned, else None."""
        ...

    def clone(self, profile_id: str, version: str, samples: Sequence[np.ndarray], rate: int) -> Voice:
        """Condition on the enrollment samples (float32 at rate), remember it, and return the cloned voice."""
        ...


def onnx_session(path: str, threads: int) -> ort.InferenceSession:
    """A CPU onnxruntime session with `threads` intra-op threads that sleep when idle.

    onnxruntime's threads spin-wait by default, which starves the other model
    servers sharing a few cores (Kokoro measured 4x slower beside Whisper).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
