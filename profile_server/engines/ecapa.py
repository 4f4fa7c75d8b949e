"""SpeechBrain's ECAPA-TDNN speaker embedding (spkrec-ecapa-voxceleb) plus prosody.

The model loads from a local folder laid out like the Hugging Face download
(hyperparams.yaml and the checkpoints its pretrainer names) through
SpeechBrain's own EncoderClassifier.from_hparams, with the yaml's
pretrained_path pointed at that folder and network fetching disabled, so
nothing is ever downloaded. The speaker part is the unit-length ECAPA
embedding of the whole recording; the prosody part and speech seconds are
exactly those of the embedded engine (engines.base).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from speechbrain.inference.speaker import EncoderClassifier
from speechbrain.utils.fetching import FetchConfig, FetchFrom, FetchSource

from common.models import model_path, torch_device
from profile_server.engines.base import Embedder
from profile_server.engines.prosody import DIM as PROSODY_DIM

MODEL = "ecapa-voxceleb"
"""Folder name under .state/models."""
FILES = ("hyperparams.yaml", "embedding_model.ckpt", "mean_var_norm_emb.ckpt", "classifier.ckpt", "label_encoder.txt")
"""What the spkrec-ecapa-voxceleb hyperparams.yaml loads; all must be present."""


class EcapaEmbedder(Embedder):
    """speechbrain-ecapa-192+prosody-64/v1 (the speaker size comes from the loaded model)."""

    def __init__(self, model_dir: str | Path | None = None, device: str = "auto") -> None:
        folder = model_path(model_dir, MODEL, FILES, section="ecapa").resolve()
        self.device = torch_device(device)
        self._model = EncoderClassifier.from_hparams(
            source=FetchSource(FetchFrom.LOCAL, str(folder)),
            overrides={"pretrained_path": str(folder)},
            savedir=None,
            fetch_config=FetchConfig(allow_network=False),
            run_opts={"device": self.device},
        )
        self._model.eval()
        self.speaker_dim = int(self._model.mods.embedding_model.fc.conv.out_channels)
        self.name = f"speechbrain-ecapa-{self.speaker_dim}+prosody-{PROSODY_DIM}/v1"

    def speaker_vector(self, audio: np.ndarray) -> np.ndarray:
        """The unit-length ECAPA embedding of float32 audio at 16 kHz."""
        with torch.inference_mode():
            wavs = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).unsqueeze(0)
            vector = self._model.encode_batch(wavs).reshape(-1).float().cpu().numpy()
        norm = float(np.linalg.norm(vector))
        return (vector / norm if norm > 0 else vector).astype(np.float32)
