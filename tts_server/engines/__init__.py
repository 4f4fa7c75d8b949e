"""Engine registry: the --engine flag picks one by name; models load only when picked."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from common.models import model_path, offline_hubs
from tts_server.engines.base import Cloner, Engine, Synthesizer, Voice, VoiceChoice


def _embedded(args: argparse.Namespace, defaults: dict[str, str]) -> Engine:
    from tts_server.engines.embedded import EmbeddedSynthesizer
    from tts_server.engines.espeak import EspeakSynthesizer, MbrolaSynthesizer
    from tts_server.engines.kokoro import KokoroSynthesizer
    from tts_server.engines.pico import PicoSynthesizer
    from tts_server.engines.piper import PiperSynthesizer

    parts: list[Synthesizer] = [
        PicoSynthesizer(),
        PiperSynthesizer(args.threads),
        KokoroSynthesizer(args.threads),
        MbrolaSynthesizer(),
        EspeakSynthesizer(),
    ]
    overrides = {lang: voice for lang, voice in defaults.items() if lang != PREFER}
    return EmbeddedSynthesizer(parts, overrides, engine=defaults.get(PREFER, ""))


def _xtts(args: argparse.Namespace, defaults: dict[str, str]) -> Engine:
    folder = model_path(args.model_dir, "xtts-v2", ["config.json", "model.pth", "vocab.json"], section="xtts")
    offline_hubs()
    from tts_server.engines.xtts import XttsSynthesizer, piper_reference

    return XttsSynthesizer(
        folder,
        device=args.device,
        stream_chunk=args.xtts_stream_chunk,
        threads=args.threads,
        defaults=defaults,
        reference=lambda: piper_reference(args.threads),
    )


PREFER = "*"
"""Key in the default-voice overrides naming an engine whose best-measured voices to prefer ("kokoro")."""

ENGINES: dict[str, Callable[[argparse.Namespace, dict[str, str]], Engine]] = {"embedded": _embedded, "xtts": _xtts}
"""Engine name -> factory(parsed flags, default voice overrides by language)."""


def build(name: str, args: argparse.Namespace, defaults: dict[str, str] | None = None) -> Engine:
    """Make the named engine from the parsed flags; unknown names raise ValueError."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}") from None
    return factory(args, defaults or {})


__all__ = ["ENGINES", "PREFER", "Cloner", "Engine", "Synthesizer", "Voice", "VoiceChoice", "build"]
