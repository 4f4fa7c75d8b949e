"""Engine registry: the --engine flag picks one by name; models load only when picked."""

from __future__ import annotations

from collections.abc import Callable

from tts_server.engines.base import Engine, Synthesizer, Voice, VoiceChoice


def _embedded(threads: int, defaults: dict[str, str]) -> Engine:
    from tts_server.engines.embedded import EmbeddedSynthesizer
    from tts_server.engines.espeak import EspeakSynthesizer
    from tts_server.engines.kokoro import KokoroSynthesizer
    from tts_server.engines.piper import PiperSynthesizer

    parts: list[Synthesizer] = [PiperSynthesizer(threads), KokoroSynthesizer(threads), EspeakSynthesizer()]
    return EmbeddedSynthesizer(parts, defaults)


ENGINES: dict[str, Callable[[int, dict[str, str]], Engine]] = {"embedded": _embedded}
"""Engine name -> factory(onnxruntime threads per model, default voice overrides by language)."""


def build(name: str, threads: int = 1, defaults: dict[str, str] | None = None) -> Engine:
    """Make the named engine; unknown names raise ValueError."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}") from None
    return factory(threads, defaults or {})


__all__ = ["ENGINES", "Engine", "Synthesizer", "Voice", "VoiceChoice", "build"]
