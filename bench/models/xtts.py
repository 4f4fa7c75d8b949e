"""Random-weight Coqui XTTS v2 model folders built from the library's own config, and their benchmark.

    .venv/bin/python -m bench.production --only xtts

write_model() builds Xtts from an XttsConfig with the values of the coqui/XTTS-v2
config.json (GPT-2 of 30 layers x 1024 channels x 16 heads, perceiver conditioning,
1026 audio codes, HiFi-GAN decoder with its ResNet speaker encoder; TINY shrinks the
GPT only) and a BPE vocab.json trained here with the tokenizers library in XTTS's
format (Whitespace pre-tokenizer, [STOP] [UNK] [SPACE] [START] and [lang] tokens). It
saves config.json, model.pth ({"model": state dict, "config": dict}) and vocab.json,
the layout of the real download, for the engine's real loading path. Random weights
never choose the stop code on purpose, so its output bias is lowered to rule it out:
generation always runs to gpt_max_audio_tokens - 3 codes, a fixed length.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
from TTS.tts.models.xtts import Xtts

import corpus
from bench.models import speech, timing_row
from common.models import torch_device
from tts_server.engines.base import VoiceChoice
from tts_server.engines.xtts import XttsSynthesizer


@dataclass(frozen=True)
class Size:
    """The GPT's shape and the vocabulary size asked of the BPE trainer."""

    layers: int
    channels: int
    heads: int
    audio_tokens: int
    """gpt_max_audio_tokens: generation stops after this minus 3 codes."""
    vocab: int


FULL = Size(layers=30, channels=1024, heads=16, audio_tokens=605, vocab=6681)
"""coqui/XTTS-v2 (its vocab.json has 6681 tokens; the trainer here stops when the text runs out of merges)."""
TINY = Size(layers=2, channels=64, heads=4, audio_tokens=16, vocab=256)
STOP_BIAS = -1e4
BENCH_CODES = 65
"""Codes generated per benchmark sentence: about 3 s of audio, what XTTS says for ten words."""
SENTENCE = "Good morning everyone, the meeting will start in five minutes."
RUNS = 3
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789'.,;:?!-áàâäãåçéèêëíìîïñóòôöõúùûüýÿßąćęłńśźżčďěňřšťůžğışőű"
"""Letters of the XTTS languages written in Latin script; others become [UNK]."""


def write_vocab(path: Path, size: int) -> VoiceBpeTokenizer:
    """Train a BPE vocab.json in XTTS's format on the corpus transcripts; the library's tokenizer on it."""
    languages = XttsConfig().languages
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=size,
        special_tokens=["[STOP]", "[UNK]", "[SPACE]", "[START]", *(f"[{lang}]" for lang in languages)],
        initial_alphabet=list(ALPHABET),
        show_progress=False,
    )
    tokenizer.train_from_iterator([text.lower() for text in corpus.transcripts("en").values()], trainer)
    tokenizer.save(str(path))
    return VoiceBpeTokenizer(vocab_file=str(path))


def write_model(folder: Path, size: Size = TINY, seed: int = 0) -> Path:
    """A random-weight XTTS v2 folder: config.json, model.pth, vocab.json."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_vocab(folder / "vocab.json", size.vocab)
    assert tokenizer.tokenizer is not None
    args = XttsArgs(
        gpt_layers=size.layers,
        gpt_n_model_channels=size.channels,
        gpt_n_heads=size.heads,
        gpt_max_audio_tokens=size.audio_tokens,
        gpt_max_text_tokens=402,
        gpt_max_prompt_tokens=70,
        gpt_number_text_tokens=tokenizer.get_number_tokens(),
        gpt_start_text_token=tokenizer.tokenizer.token_to_id("[START]"),
        gpt_stop_text_token=tokenizer.tokenizer.token_to_id("[STOP]"),
        gpt_num_audio_tokens=1026,
        gpt_start_audio_token=1024,
        gpt_stop_audio_token=1025,
        gpt_use_perceiver_resampler=True,
        decoder_input_dim=size.channels,
        d_vector_dim=512,
    )
    config = XttsConfig(
        model_args=args,
        temperature=0.75,
        repetition_penalty=5.0,
        gpt_cond_len=30,
        gpt_cond_chunk_len=4,
        max_ref_len=30,
    )
    torch.manual_seed(seed)
    model = Xtts(config)
    assert model.gpt is not None
    with torch.no_grad():
        model.gpt.mel_head.bias[args.gpt_stop_audio_token] = STOP_BIAS
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


def write_speakers(folder: Path, names: Sequence[str], channels: int) -> None:
    """A speakers_xtts.pth of random named voices: name -> {gpt_cond_latent, speaker_embedding}, as the real one."""
    voices = {
        name: {"gpt_cond_latent": torch.randn(1, 32, channels), "speaker_embedding": torch.randn(1, 512, 1)}
        for name in names
    }
    torch.save(voices, folder / "speakers_xtts.pth")


def benchmark(device: str = "auto") -> list[dict[str, object]]:
    """Conditioning time per enrollment second, first-chunk latency and real-time factor of streaming."""
    device = torch_device(device)
    threads = 2
    where = f"{device}, {threads} torch threads" if device == "cpu" else device
    size = Size(FULL.layers, FULL.channels, FULL.heads, BENCH_CODES + 3, FULL.vocab)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_model(Path(tmp) / "xtts-v2", size)
        engine = XttsSynthesizer(
            folder, device, stream_chunk=20, threads=threads, reference=lambda: (speech(6.0), 16000), cache=Path(tmp)
        )
        chunk_s = engine.model.config.gpt_cond_chunk_len
        for seconds in (10.0, 30.0):
            enrollment = [speech(seconds)]
            times = []
            for _ in range(3):
                started = time.perf_counter()
                engine.condition(enrollment, 16000)
                times.append(time.perf_counter() - started)
            rows.append(
                timing_row(
                    "tts/xtts",
                    f"conditioning latents, {seconds:.0f} s enrollment",
                    times,
                    f"GPT latents ({chunk_s} s chunks) + speaker embedding, FULL XTTS v2, {where}",
                    ms_per_audio_s=round(1000 * float(np.median(times)) / seconds, 1),
                )
            )
        voice = VoiceChoice(engine.voices()[0])
        engine.warm_up()
        first, total, audio_s = [], [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            samples = 0
            for chunk in engine.synthesize(SENTENCE, voice, "en"):
                if samples == 0:
                    first.append(time.perf_counter() - started)
                samples += len(chunk)
            total.append(time.perf_counter() - started)
            audio_s.append(samples / engine.rate)
        note = (
            f"FULL XTTS v2 (GPT 30x1024, HiFi-GAN), {SENTENCE.count(' ') + 1}-word sentence, "
            f"{BENCH_CODES} codes forced (stop code ruled out, gpt_max_audio_tokens={size.audio_tokens}), {where}"
        )
        rows.append(timing_row("tts/xtts", "first chunk, stream_chunk 20", first, note))
        rows.append(
            timing_row(
                "tts/xtts",
                f"whole sentence, {float(np.median(audio_s)):.2f} s of audio",
                total,
                note,
                rtf=round(float(np.median(total)) / float(np.median(audio_s)), 3),
            )
        )
    return rows
