"""Recognition engines: the interface, and a registry the --engine flag picks from."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from common.models import model_path, offline_hubs, torch_device
from stt_server.engines.base import SAMPLE_RATE, Engine, Recognizer, Transcript, VoiceDetector

__all__ = ["ENGINES", "SAMPLE_RATE", "Engine", "Recognizer", "Transcript", "VoiceDetector", "build"]


def _embedded(args: argparse.Namespace) -> Engine:
    """Whisper base (CTranslate2, int8) from the installed weight packages, tiny.en for English, with Silero VAD."""
    from common.vad import SileroDetector
    from stt_server.engines.routed import RoutedRecognizer
    from stt_server.engines.whisper import WhisperRecognizer, english_model, ensure_model

    def whisper(folder: Path) -> WhisperRecognizer:
        return WhisperRecognizer(
            folder,
            cpu_threads=args.cpu_threads,
            workers=args.workers,
            min_window_s=args.window_s,
            final_beam_size=args.final_beam_size,
        )

    recognizer: Recognizer = whisper(ensure_model())
    if getattr(args, "english_model", "base") == "tiny.en":
        recognizer = RoutedRecognizer(recognizer, {"en": whisper(english_model())})
    return Engine(recognizer=recognizer, new_vad=SileroDetector)


def _nemo(args: argparse.Namespace) -> Engine:
    """NVIDIA NeMo ASR from the one .nemo file of --model-dir (cache-aware streaming or buffered), with Silero VAD."""
    folder = model_path(args.model_dir, "nemo-stt", ["*.nemo"], section="nemo")
    offline_hubs()
    import torch

    from common.vad import SileroDetector
    from stt_server.engines.nemo import load_model, recognizer

    torch.set_num_threads(args.cpu_threads)
    model = load_model(folder, torch_device(args.device), args.nemo_att_context, args.nemo_decoder)
    return Engine(recognizer=recognizer(model, args.nemo_language, args.workers), new_vad=SileroDetector)


ENGINES: dict[str, Callable[[argparse.Namespace], Engine]] = {"embedded": _embedded, "nemo": _nemo}
"""Engine name -> factory taking the parsed flags."""


def build(name: str, args: argparse.Namespace) -> Engine:
    """Build the named engine."""
    return ENGINES[name](args)
