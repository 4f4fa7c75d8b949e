"""Synthesize speech, then transcribe it back: TTS and STT check each other."""

from __future__ import annotations

import pytest

from clients.speech import synthesize, transcribe
from corpus import wer

CASES = [
    ("en", "The meeting starts at nine tomorrow morning."),
    ("es", "Nadie está disponible para atender su llamada en este momento."),
    ("fr", "Nous allons parler de la nouvelle maison."),
]


@pytest.mark.parametrize(("language", "text"), CASES)
def test_synthesize_then_transcribe(language: str, text: str, tts_address: str, stt_address: str) -> None:
    spoken = synthesize(tts_address, text, language)
    assert len(spoken.pcm) > 16000, "less than half a second of audio"
    heard = transcribe(stt_address, spoken.pcm, language)
    error = wer(text, heard.text)
    print(f"{language}: {text!r} -> voice {spoken.voice_name} -> {heard.text!r} (WER {error:.2f})")
    assert error <= 0.35, heard.text


def test_language_detected_from_synthesized_speech(tts_address: str, stt_address: str) -> None:
    spoken = synthesize(tts_address, "Buenos días, ¿cómo está usted hoy?", "es")
    heard = transcribe(stt_address, spoken.pcm, "auto")
    assert heard.finals, "no final result"
    assert heard.finals[0].language_code == "es"
