"""Resemblyzer's GE2E speaker encoder (weights ship inside the package) plus prosody.

The speaker part is Resemblyzer's 256-D utterance embedding of the audio after
its own preprocessing (volume normalization, long silences trimmed by WebRTC
VAD); the prosody part is engines.prosody's 64-D vector. Speech seconds count
the 30 ms frames engines.vad calls speech.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from profile_server.engines.base import Embedder, Embedding
from profile_server.engines.prosody import DIM as PROSODY_DIM
from profile_server.engines.prosody import prosody_vector
from profile_server.engines.vad import FRAME_S, speech_mask

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
    prosody_dim = PROSODY_DIM

    def __init__(self) -> None:
        self._encoder = VoiceEncoder(device=torch.device("cpu"), verbose=False)
        self._encoder.eval()

    def embed(self, audio: np.ndarray) -> Embedding:
        """Embed float32 audio at 16 kHz; all zeros when there is no speech."""
        speech = speech_mask(audio)
        speech_seconds = float(speech.sum()) * FRAME_S
        if speech_seconds == 0.0:
            return Embedding(np.zeros(self.dim, dtype=np.float32), 0.0)
        trimmed = preprocess_wav(audio)
        if len(trimmed) < MIN_TRIMMED_S * 16000:
            trimmed = normalize_volume(audio, audio_norm_target_dBFS, increase_only=True)
        speaker = self._encoder.embed_utterance(trimmed.astype(np.float32))
        vector = np.concatenate([speaker, prosody_vector(audio, speech)]).astype(np.float32)
        return Embedding(vector, speech_seconds)
