"""Random-weight NeMo FastConformer .nemo files built from NeMo's own model classes, and their benchmark.

    .venv/bin/python -m bench.production --only nemo

write_model() builds a FastConformer (dw_striding 8x downsampling, rel_pos attention) from an
OmegaConf config modeled on NeMo's fastconformer cache-aware streaming configs, with random
weights, and saves it with save_to() as the one .nemo file of a folder, the layout the nemo
engine loads. Streaming models use chunked_limited attention with several lookaheads, causal
convolutions and downsampling and unnormalized features; the others are offline
(full-context) models for the buffered path. Char vocabularies make CTC models; hybrid
models are RNNT-CTC with a SentencePiece BPE tokenizer trained here on made-up words, like
stt_en_fastconformer_hybrid_large_streaming_multi. The blank's output bias is lowered so
random weights still emit text.
"""

from __future__ import annotations

import os
import string
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sentencepiece as spm
import torch
from omegaconf import OmegaConf

from bench.models import speech, timing_row
from stt_server.engines.base import SAMPLE_RATE
from stt_server.engines.nemo import BufferedRecognizer, StreamingRecognizer, load_model

LABELS = [" ", *string.ascii_lowercase, "'"]
LOOKAHEADS = [[70, 13], [70, 6], [70, 1], [70, 0]]
"""stt_en_fastconformer_hybrid_large_streaming_multi's att_context_size list (1040, 480, 80, 0 ms)."""
CALIBRATION_S = 10.0
GAIN = 3.0
"""Standard deviation of the whitened logits."""
CTC_BLANK_BIAS = -1.0
RNNT_BLANK_BIAS = 0.75


@dataclass(frozen=True)
class Size:
    """Encoder and decoder dimensions."""

    d_model: int
    n_layers: int
    n_heads: int
    conv_channels: int
    ff_expansion: int
    pred_hidden: int
    vocab_size: int


FULL = Size(d_model=512, n_layers=17, n_heads=8, conv_channels=256, ff_expansion=4, pred_hidden=640, vocab_size=1024)
"""stt_en_fastconformer_hybrid_large_streaming_multi (114 M parameters)."""
TINY = Size(d_model=32, n_layers=2, n_heads=2, conv_channels=16, ff_expansion=2, pred_hidden=32, vocab_size=64)


def _train_tokenizer(folder: Path, vocab_size: int) -> None:
    """A SentencePiece BPE tokenizer with NeMo's file names, trained on made-up words."""
    rng = np.random.default_rng(0)
    letters = np.array(list(string.ascii_lowercase))
    sentences = [" ".join("".join(rng.choice(letters, rng.integers(1, 9))) for _ in range(12)) for _ in range(4000)]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_prefix=str(folder / "tokenizer"),
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        minloglevel=2,
    )
    pieces = [line.split("\t")[0] for line in (folder / "tokenizer.vocab").read_text().splitlines()]
    (folder / "vocab.txt").write_text("\n".join(pieces) + "\n")


def _config(size: Size, streaming: bool, tokenizer: Path | None) -> dict[str, Any]:
    """The model section of a FastConformer config; CTC over LABELS, or hybrid RNNT-CTC with tokenizer."""
    encoder = {
        "_target_": "nemo.collections.asr.modules.ConformerEncoder",
        "feat_in": 80,
        "feat_out": -1,
        "n_layers": size.n_layers,
        "d_model": size.d_model,
        "subsampling": "dw_striding",
        "subsampling_factor": 8,
        "subsampling_conv_channels": size.conv_channels,
        "causal_downsampling": streaming,
        "ff_expansion_factor": size.ff_expansion,
        "self_attention_model": "rel_pos",
        "n_heads": size.n_heads,
        "att_context_size": LOOKAHEADS if streaming else [-1, -1],
        "att_context_style": "chunked_limited" if streaming else "regular",
        "xscaling": True,
        "untie_biases": True,
        "pos_emb_max_len": 5000,
        "conv_kernel_size": 9,
        "conv_norm_type": "layer_norm" if streaming else "batch_norm",
        "conv_context_size": "causal" if streaming else None,
        "dropout": 0.1,
        "dropout_pre_encoder": 0.1,
        "dropout_emb": 0.0,
        "dropout_att": 0.1,
    }
    ctc_decoder = {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": size.d_model}
    cfg: dict[str, Any] = {
        "sample_rate": SAMPLE_RATE,
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": SAMPLE_RATE,
            "normalize": "NA" if streaming else "per_feature",
            "window_size": 0.025,
            "window_stride": 0.01,
            "window": "hann",
            "features": 80,
            "n_fft": 512,
            "frame_splicing": 1,
            "dither": 1e-5,
            "pad_to": 0,
        },
        "encoder": encoder,
    }
    if tokenizer is None:
        return {
            **cfg,
            "labels": LABELS,
            "decoder": {**ctc_decoder, "num_classes": len(LABELS), "vocabulary": LABELS},
            "decoding": {"strategy": "greedy"},
        }
    return {
        **cfg,
        "tokenizer": {"dir": str(tokenizer), "type": "bpe"},
        "model_defaults": {
            "enc_hidden": size.d_model,
            "pred_hidden": size.pred_hidden,
            "joint_hidden": size.pred_hidden,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.RNNTDecoder",
            "normalization_mode": None,
            "random_state_sampling": False,
            "blank_as_pad": True,
            "prednet": {"pred_hidden": size.pred_hidden, "pred_rnn_layers": 1, "t_max": None, "dropout": 0.2},
        },
        "joint": {
            "_target_": "nemo.collections.asr.modules.RNNTJoint",
            "log_softmax": None,
            "preserve_memory": False,
            "fuse_loss_wer": True,
            "fused_batch_size": 4,
            "jointnet": {"joint_hidden": size.pred_hidden, "activation": "relu", "dropout": 0.2},
        },
        "aux_ctc": {
            "ctc_loss_weight": 0.3,
            "use_cer": False,
            "ctc_reduction": "mean_batch",
            "decoder": {**ctc_decoder, "num_classes": -1, "vocabulary": []},
            "decoding": {"strategy": "greedy"},
        },
        "decoding": {"strategy": "greedy_batch", "greedy": {"max_symbols": 10}},
        "loss": {"loss_name": "default"},
    }


def _calibrate(model: Any, hybrid: bool) -> None:
    """Whiten the layers reading the encoder output over real speech, so random weights emit varied text.

    A random encoder's output is nearly constant; centered and scaled per channel, its small
    variations pick the tokens. Blank biases are set for about one token per few frames.
    """
    model.eval()
    with torch.no_grad():
        signal = torch.from_numpy(speech(CALIBRATION_S))[None]
        features, length = model.preprocessor(input_signal=signal, length=torch.tensor([signal.shape[1]]))
        encoded = model.encoder(audio_signal=features, length=length)[0][0]
        mean, std = encoded.mean(1), encoded.std(1)
        readers = [(model.ctc_decoder if hybrid else model.decoder).decoder_layers[-1]]
        if hybrid:
            readers.append(model.joint.enc)
        for layer in readers:
            weight = layer.weight.view(layer.weight.shape[0], -1) / std
            weight *= GAIN / weight.std() / weight.shape[1] ** 0.5
            layer.weight.copy_(weight.view_as(layer.weight))
            layer.bias.copy_(-(weight @ mean))
        (model.ctc_decoder if hybrid else model.decoder).decoder_layers[-1].bias[-1] += CTC_BLANK_BIAS
        if hybrid:
            model.joint.joint_net[-1].bias[-1] += RNNT_BLANK_BIAS


def write_model(folder: Path, size: Size = TINY, streaming: bool = True, hybrid: bool = False, seed: int = 0) -> Path:
    """Build a random-weight model and save it as folder/model.nemo; returns the file."""
    from nemo.collections.asr.models import EncDecCTCModel, EncDecHybridRNNTCTCBPEModel

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = Path(tmp) if hybrid else None
        if tokenizer is not None:
            _train_tokenizer(tokenizer, size.vocab_size)
        cfg = OmegaConf.create(_config(size, streaming, tokenizer))
        model = EncDecHybridRNNTCTCBPEModel(cfg=cfg) if hybrid else EncDecCTCModel(cfg=cfg)
        _calibrate(model, hybrid)
        path = folder / "model.nemo"
        model.save_to(str(path))
    return path


def _stream(recognizer: StreamingRecognizer, audio: np.ndarray) -> list[float]:
    """Seconds per chunk of one streaming pass over audio, as the engine steps it, after the (larger) first."""
    state = recognizer.start()
    times = []
    while recognizer.fits(state, len(audio)):
        started = time.perf_counter()
        state = recognizer.step(audio, state, recognizer.next_chunk(state), last=False)
        times.append(time.perf_counter() - started)
    return times[1:]


def benchmark(device: str = "cpu") -> list[dict[str, object]]:
    """Per-chunk latency of cache-aware streaming at each lookahead, and a buffered decode of 3 s."""
    torch.set_num_threads(2)
    where = "GPU" if device == "cuda" else f"CPU {torch.get_num_threads()} threads"
    audio = speech(8.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_model(folder, FULL, streaming=True, hybrid=True)
        for decoder in ("rnnt", "ctc"):
            model = load_model(folder, device, None, decoder)
            for left, right in LOOKAHEADS if decoder == "rnnt" else LOOKAHEADS[1:2]:
                model.encoder.set_default_att_context_size([left, right])
                recognizer = StreamingRecognizer(model, "en", 1)
                with torch.no_grad():
                    times = _stream(recognizer, audio)
                chunk_ms = 1000 * recognizer.chunk_seconds()
                rtf = sum(times) / (len(times) * recognizer.chunk_seconds())
                rows.append(
                    timing_row(
                        "stt/nemo",
                        f"cache-aware {decoder}, lookahead {right * 80} ms, chunk {chunk_ms:.0f} ms",
                        times,
                        f"FastConformer hybrid 114M, {len(times)} chunks of 8 s speech, {where}",
                        chunk_ms=chunk_ms,
                        rtf=round(rtf, 3),
                    )
                )
        buffered = BufferedRecognizer(model, "en", 1)
        utterance = speech(3.0)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            buffered.decode(utterance, "en", "", final=True)
            times.append(time.perf_counter() - started)
        rows.append(
            timing_row(
                "stt/nemo",
                "buffered ctc, 3 s utterance",
                times,
                f"same 114M FastConformer, whole utterance per decode (the fallback path), {where}",
                rtf=round(float(np.median(times)) / 3.0, 3),
            )
        )
    return rows
