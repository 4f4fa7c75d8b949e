"""The embedder interface and the vector layout every embedder shares.

An embedding is [speaker vector | prosody vector], each part unit length (or
all zeros when Silero VAD finds no speech in the audio). Two embeddings compare
only when the same embedder made them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.vad import RATE, WINDOW, WINDOW_S, speech_mask
from profile_server.engines.prosody import DIM as PROSODY_DIM
from profile_server.engines.prosody import prosody_vector

SPEAKER_WEIGHT = 0.85
"""Share of the speaker part in the overall similarity; prosody has the rest."""


@dataclass(frozen=True)
class Embedding:
    """One recording's embedding and how much speech it was made from."""

    vector: np.ndarray
    speech_seconds: float


@dataclass(frozen=True)
class Similarity:
    """Cosine similarities of two embeddings."""

    overall: float
    speaker: float
    prosody: float


class Embedder(ABC):
    """Turns 16 kHz mono float audio into an embedding of fixed layout."""

    name: str
    """Identifies the model and layout, e.g. "resemblyzer-256+prosody-64/v1"."""
    speaker_dim: int
    prosody_dim = PROSODY_DIM

    @property
    def dim(self) -> int:
        """Length of the whole vector."""
        return self.speaker_dim + self.prosody_dim

    @abstractmethod
    def speaker_vector(self, audio: np.ndarray) -> np.ndarray:
        """The unit-length speaker part for float32 audio at 16 kHz; thread-safe."""

    def embed(self, audio: np.ndarray) -> Embedding:
        """Embed float32 audio at 16 kHz; all zeros when it holds no speech; thread-safe."""
        speech = speech_mask(audio)
        speech_seconds = float(speech.sum()) * WINDOW_S
        if speech_seconds == 0.0:
            return Embedding(np.zeros(self.dim, dtype=np.float32), 0.0)
        vector = np.concatenate([self.speaker_vector(audio), prosody_vector(audio, speech)]).astype(np.float32)
        return Embedding(vector, speech_seconds)

    def warm_up(self) -> None:
        """Run the models once so the first request is not slow.

        The synthetic voice is no speech to the VAD, so the speaker and prosody
        parts are run on it as if it all were.
        """
        t = np.arange(2 * RATE) / RATE
        pitch = 150.0 * 2 ** (np.sin(2 * np.pi * 0.5 * t) / 6)
        phase = 2 * np.pi * np.cumsum(pitch) / RATE
        voice = sum(np.sin(k * phase) / k for k in range(1, 8))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
        audio = (0.1 * voice * envelope).astype(np.float32)
        speech_mask(audio)
        self.speaker_vector(audio)
        prosody_vector(audio, np.ones(len(audio) // WINDOW, dtype=bool))


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def combine(vectors: Sequence[np.ndarray], speaker_dim: int) -> np.ndarray:
    """The mean of several embeddings, each part renormalized to unit length."""
    mean = np.mean(np.stack(vectors), axis=0)
    return np.concatenate([_unit(mean[:speaker_dim]), _unit(mean[speaker_dim:])]).astype(np.float32)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else 0.0


def compare(a: np.ndarray, b: np.ndarray, speaker_dim: int) -> Similarity:
    """Speaker and prosody cosines, and their weighted sum (the cosine of the
    whole vectors once the parts are scaled by the square roots of the weights)."""
    speaker = _cosine(a[:speaker_dim], b[:speaker_dim])
    prosody = _cosine(a[speaker_dim:], b[speaker_dim:])
    return Similarity(SPEAKER_WEIGHT * speaker + (1 - SPEAKER_WEIGHT) * prosody, speaker, prosody)
