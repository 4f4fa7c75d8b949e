"""Resemblyzer's GE2E speaker encoder (weights ship inside the package) plus prosody.

The speaker part is Resemblyzer's 256-D utterance embedding of the audio after
its own preprocessing (volume normalization, long silences trimmed by WebRTC
VAD); the prosody part is engines.prosody's 64-D vector. Speech seconds count
the 32 ms windows Silero VAD (common.vad) calls speech (engines.base).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from profile_server.engines.base import Embedder

with warnings.catch_warnings():
    # webrtcvad (imported by resemblyzer) warns about pkg_resources.
    warnings.simplefilter("ignore")
    from resemblyzer import VoiceEncoder, normalize_volume, preprocess_wav
    from resemblyzer.hparams import audio_norm_target_dBFS

MIN_TRIMMED_S = 0.2
"""Below this much audio left after Resemblyzer's trimming, embed the untrimmed audio."""


class ResemblyzerEmbedder(Embedder):
    """resemblyzer-256+prosody-64/v1 on the CPU."""

    name = "resemblyzer-256+prosody-64/v1"
    speaker_dim = 256

    def __init__(self) -> None:
        self._encoder = VoiceEncoder(device=torch.device("cpu"), verbose=False)
        self._encoder.eval()

    def speaker_vector(self, audio: np.ndarray) -> np.ndarray:
        """Resemblyzer's unit-length utterance embedding of float32 audio at 16 kHz."""
        trimmed = preprocess_wav(audio)
        if len(trimmed) < MIN_TRIMMED_S * 16000:
            trimmed = normalize_volume(audio, audio_norm_target_dBFS, increase_only=True)
        return np.asarray(self._encoder.embed_utterance(trimmed.astype(np.float32)), dtype=np.float32)
