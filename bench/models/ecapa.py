"""Random-weight SpeechBrain ECAPA-TDNN folders in the spkrec-ecapa-voxceleb layout, and its benchmark.

    .venv/bin/python -m bench.production --only ecapa

write_model() writes hyperparams.yaml modeled on the real one (including its
Hugging Face pretrained_path, which the engine must override), instantiates
it with SpeechBrain's own HyperPyYAML loader, and saves every loadable of its
pretrainer with SpeechBrain's save hooks: embedding_model.ckpt,
mean_var_norm_emb.ckpt, classifier.ckpt and label_encoder.txt.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import DEFAULT_SAVE_HOOKS, get_default_hook

from bench.models import speech, timing_row
from profile_server.engines.ecapa import EcapaEmbedder

FULL_CHANNELS = (1024, 1024, 1024, 1024, 3072)
"""spkrec-ecapa-voxceleb's channels; with 7205 VoxCeleb speakers in its classifier."""
FULL_SPEAKERS = 7205
TINY_CHANNELS = (64, 64, 64, 64, 192)
TINY_SPEAKERS = 8

HYPERPARAMS = """\
# ############################################################################
# Model: ECAPA big for Speaker verification (random weights, {channels} channels)
# ############################################################################

# Feature parameters
n_mels: 80

# Pretrain folder (HuggingFace)
pretrained_path: speechbrain/spkrec-ecapa-voxceleb

# Output parameters
out_n_neurons: {speakers}

# Model params
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {channels}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 128
    lin_neurons: 192

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 192
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


def write_model(
    folder: Path, channels: Sequence[int] = TINY_CHANNELS, speakers: int = TINY_SPEAKERS, seed: int = 0
) -> Path:
    """Write a randomly initialised ECAPA-TDNN (192-D embeddings) into folder; returns folder."""
    folder.mkdir(parents=True, exist_ok=True)
    text = HYPERPARAMS.format(channels=list(channels), speakers=speakers)
    (folder / "hyperparams.yaml").write_text(text)
    torch.manual_seed(seed)
    hparams = load_hyperpyyaml(text, {"pretrained_path": str(folder)})
    hparams["label_encoder"].update_from_iterable([f"id{10001 + i}" for i in range(speakers)])
    norm = hparams["mean_var_norm_emb"]  # given statistics, as a trained one has
    norm.train()
    norm(torch.randn(16, 1, 192), torch.ones(16))
    pretrainer = hparams["pretrainer"]
    for name, loadable in pretrainer.loadables.items():
        get_default_hook(loadable, DEFAULT_SAVE_HOOKS)(loadable, Path(pretrainer.paths[name]))
    return folder


def benchmark(device: str = "cpu", runs: int = 7) -> list[dict[str, object]]:
    """ECAPA time per second of audio: full-size random model through EcapaEmbedder on device.

    Each run times the speaker vector alone, then the whole embed() (VAD and
    prosody too) on the same clip, so both see the same machine load.
    """
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        embedder = EcapaEmbedder(write_model(Path(tmp), FULL_CHANNELS, FULL_SPEAKERS), device=device)
        embedder.warm_up()
        cases: dict[str, Callable[[np.ndarray], object]] = {
            "speaker vector (ECAPA only)": embedder.speaker_vector,
            "embed (ECAPA + VAD + prosody)": embedder.embed,
        }
        for seconds in (2.0, 5.0, 10.0):
            audio = speech(seconds)
            times: dict[str, list[float]] = {case: [] for case in cases}
            for _ in range(runs):
                for case, run in cases.items():
                    started = time.perf_counter()
                    run(audio)
                    times[case].append((time.perf_counter() - started) / seconds)
            rows.extend(
                timing_row(
                    "profile/ecapa",
                    f"{case}, {seconds:g} s clip",
                    per_audio_s,
                    f"ms per second of audio; {embedder.name}, full-size random weights, "
                    f"{embedder.device}, {torch.get_num_threads()} torch threads, {runs} runs",
                )
                for case, per_audio_s in times.items()
            )
    return rows
