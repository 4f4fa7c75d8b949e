"""The measured voices over a real socket: defaults from the table, rate and pitch, and the shift toward a speaker."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from clients.launch import running
from clients.speech import Synthesis, channel, enroll, synthesize
from corpus.sets import sentences
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tts_server import voice_table
from tts_server.shift import median_pitch, parselmouth

TABLE = voice_table.load()


def offered(address: str) -> dict[str, tts_pb2.Voice]:
    with channel(address) as ch:
        voices = tts_pb2_grpc.TextToSpeechServiceStub(ch).ListVoices(tts_pb2.ListVoicesRequest(), timeout=60).voices
    return {v.name: v for v in voices}


def pitch_of(spoken: Synthesis) -> float:
    audio = np.frombuffer(spoken.pcm, dtype="<i2").astype(np.float64) / 32768.0
    return median_pitch(parselmouth.Sound(audio, sampling_frequency=16000))


def seconds(spoken: Synthesis) -> float:
    return len(spoken.pcm) / 32000


def test_the_table_covers_the_conference_languages() -> None:
    assert {"en", "es", "fr", "de", "it", "pt"} <= set(TABLE)
    for language, policy in TABLE.items():
        assert len(policy.ranked) >= 2, f"{language}: fewer than two voices measured"


@pytest.mark.parametrize("language", sorted(TABLE))
def test_default_voice_follows_the_table(tts_address: str, language: str) -> None:
    expected = voice_table.default(TABLE[language], set(offered(tts_address)))
    spoken = synthesize(tts_address, sentences(language, "test")[0], language)
    assert spoken.voice_name == expected
    assert seconds(spoken) > 1.0


def test_kokoro_preference_picks_its_best_measured_voice() -> None:
    with running("tts_server", "--default-voices", "kokoro,de=pico-de-DE") as address:
        voices = offered(address)
        for language in ("es", "fr", "it", "pt"):
            expected = voice_table.default(TABLE[language], set(voices), engine="kokoro")
            spoken = synthesize(address, "Hola.", language)
            assert spoken.voice_name == expected and voices[expected].engine == "kokoro"
        assert synthesize(address, "Hallo.", "de").voice_name == "pico-de-DE"


def test_unknown_default_engine_refuses_to_start() -> None:
    from clients.launch import failed_start

    assert "engine 'nonsense'" in failed_start("tts_server", "--default-voices", "nonsense")


@pytest.mark.parametrize("voice", ["pico-es-ES", "mbrola-es1", "jf_alpha"])
def test_speaking_rate(tts_address: str, voice: str) -> None:
    """The rate is met exactly, whatever the engine's own rate control does."""
    text = sentences("es", "test")[1]
    normal = synthesize(tts_address, text, "es", voice=voice)
    fast = synthesize(tts_address, text, "es", voice=voice, speaking_rate=1.6)
    assert seconds(fast) / seconds(normal) == pytest.approx(1 / 1.6, rel=0.05)


@pytest.mark.parametrize(
    ("voice", "semitones"), [("pico-it-IT", -5.0), ("mbrola-it1", 5.0), ("en_US-joe-medium", -4.0)]
)
def test_pitch_semitones(tts_address: str, voice: str, semitones: float) -> None:
    """Pico sets pitch itself; for the others the service shifts the audio."""
    language = "en" if voice.startswith("en_") else "it"
    text = sentences(language, "test")[2]
    plain = pitch_of(synthesize(tts_address, text, language, voice=voice))
    moved = pitch_of(_with_pitch(tts_address, text, language, voice, semitones))
    assert 12 * math.log2(moved / plain) == pytest.approx(semitones, abs=1.5)


def _with_pitch(address: str, text: str, language: str, voice: str, semitones: float) -> Synthesis:
    config = tts_pb2.SynthesisConfig(language_code=language, voice_name=voice, pitch_semitones=semitones)
    requests = [
        tts_pb2.StreamingSynthesizeRequest(config=config),
        tts_pb2.StreamingSynthesizeRequest(text=tts_pb2.TextInput(text=text)),
        tts_pb2.StreamingSynthesizeRequest(flush=tts_pb2.Flush()),
    ]
    with channel(address) as ch:
        responses = list(tts_pb2_grpc.TextToSpeechServiceStub(ch).StreamingSynthesize(iter(requests), timeout=60))
    pcm = b"".join(r.audio.audio_content for r in responses if r.HasField("audio"))
    return Synthesis(pcm, 0.0, voice, [r.marker for r in responses if r.HasField("marker")])


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("speaking_rate", 3.0, ["speaking_rate 3", "0.5 to 2"]), ("pitch_semitones", -20.0, ["pitch_semitones -20"])],
)
def test_rate_and_pitch_out_of_range(tts_address: str, field: str, value: float, words: list[str]) -> None:
    config = tts_pb2.SynthesisConfig(language_code="es")
    setattr(config, field, value)
    with channel(tts_address) as ch, pytest.raises(grpc.RpcError) as caught:
        stub = tts_pb2_grpc.TextToSpeechServiceStub(ch)
        list(stub.StreamingSynthesize(iter([tts_pb2.StreamingSynthesizeRequest(config=config)]), timeout=60))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for word in words:
        assert word in caught.value.details()


@pytest.fixture(scope="module")
def man(profile_address: str, tts_address: str) -> str:
    """A man's profile: Piper joe (a neural voice of one man) reading four sentences."""
    samples = [synthesize(tts_address, t, "en", voice="en_US-joe-medium").pcm for t in sentences("en", "dev")[:4]]
    profile = enroll(profile_address, "voices-test-man", samples, "en")
    assert 70 < profile.pitch_median_hertz < 150, profile.pitch_median_hertz
    return profile.profile_id


@pytest.mark.parametrize("language", ["es", "fr", "de", "it"])
def test_a_mans_voice_stays_low(tts_address: str, man: str, language: str) -> None:
    """Whether the matched voice is a man's or a woman's lowered toward him, the man is heard at a man's pitch."""
    voices = offered(tts_address)
    text = sentences(language, "test")[3]
    default = synthesize(tts_address, text, language)
    matched = synthesize(tts_address, text, language, profile_id=man)
    assert {part.split("*")[0] for part in matched.voice_name.split("+")} <= set(voices)
    assert pitch_of(matched) < 150
    if voices[default.voice_name].gender == "female":
        assert pitch_of(default) > 160, "the default voice itself is a woman's"


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory: pytest.TempPathFactory, profile_address: str) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("voice-cache")
    with running("tts_server", "--profile-server", profile_address, "--voice-cache", str(cache)):
        yield cache


def test_voice_embeddings_are_ready_before_serving(fresh_cache: Path) -> None:
    """A server reports SERVING only once every voice a profile may be matched to is embedded."""
    cached = {path.name.rsplit("-", 1)[0] for path in fresh_cache.glob("*.json")}
    for language, policy in TABLE.items():
        names = voice_table.matchable(policy, {m.voice for m in policy.ranked})
        assert set(names) <= cached, f"{language}: {sorted(set(names) - cached)} not embedded at SERVING"
