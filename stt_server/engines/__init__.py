"""Recognition engines: the interface, and a registry the --engine flag picks from."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from stt_server.engines.base import SAMPLE_RATE, Engine, Recognizer, Transcript, VoiceDetector

__all__ = ["ENGINES", "SAMPLE_RATE", "Engine", "Recognizer", "Transcript", "VoiceDetector", "build"]


def _embedded(args: argparse.Namespace) -> Engine:
    """Whisper base (CTranslate2, int8) from the installed weight packages, with Silero VAD."""
    from stt_server.engines.silero import SileroDetector
    from stt_server.engines.whisper import WhisperRecognizer, ensure_model

    recognizer = WhisperRecognizer(
        ensure_model(),
        cpu_threads=args.cpu_threads,
        workers=args.workers,
        min_window_s=args.window_s,
        final_beam_size=args.final_beam_size,
    )
    return Engine(recognizer=recognizer, new_vad=SileroDetector)


ENGINES: dict[str, Callable[[argparse.Namespace], Engine]] = {"embedded": _embedded}
"""Engine name -> factory taking the parsed flags."""


def build(name: str, args: argparse.Namespace) -> Engine:
    """Build the named engine."""
    return ENGINES[name](args)
