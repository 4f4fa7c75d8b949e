"""The engine interface: a recognizer that decodes whole utterances, and a VAD."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16000
"""Every engine takes 16 kHz mono float32 audio; the service resamples to it."""


@dataclass(frozen=True)
class Transcript:
    """One decode's text and the language it was decoded in."""

    text: str
    language: str


class Recognizer(Protocol):
    """Transcribes one utterance at a time; must be safe to call from worker threads."""

    languages: frozenset[str]
    """Primary language subtags the recognizer can be told to use."""
    max_seconds: float
    """Longest audio one decode accepts."""
    workers: int
    """How many decodes may run at once."""

    def decode(
        self,
        audio: np.ndarray,
        language: str | None,
        prefix: str,
        final: bool,
        abandoned: Callable[[], bool],
        allowed: frozenset[str] = frozenset(),
    ) -> Transcript | None:
        """Transcribe audio; language None detects it, among allowed when that is not empty.

        The text must start with prefix (already committed words). final asks
        for the most accurate decode; otherwise a fast one for a partial. The
        recognizer may poll abandoned between steps and return None once it
        is true (nobody wants the result any more).
        """
        ...

    def warm_up(self) -> None:
        """Run a throwaway decode so the first request is not slow."""
        ...


class VoiceDetector(Protocol):
    """Per-stream voice activity detector over fixed-size windows."""

    window: int
    """Samples per call."""

    def __call__(self, samples: np.ndarray) -> float:
        """Speech probability (0..1) of the next window of the stream."""
        ...


@dataclass(frozen=True)
class Engine:
    """What the streaming logic needs: a shared recognizer and a VAD per stream."""

    recognizer: Recognizer
    new_vad: Callable[[], VoiceDetector]
