"""tts_server --engine xtts over real sockets: a profile's cloned voice streamed, its latents cached, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

import corpus
from bench.models.xtts import TINY, write_model, write_speakers
from clients.launch import failed_start, running
from common.audio import resample, to_pcm16
from lingua.audio.v1 import audio_pb2
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tests.conftest import channel, wait_for
from tests.test_tts import START, check_stream, config, flush, speak, text

PROMPTS = ("auth-incorrect", "conf-onlyperson", "vm-nobodyavail")
CODES = TINY.audio_tokens - 3
"""The tiny model cannot stop early (its stop code is ruled out), so every piece is this many GPT codes."""
PIECE_SECONDS = CODES * 1024 / 22050
SPEAKERS = ("Claribel Dervla", "Ana Florence")
TIMEOUT = 300


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("models") / "xtts-v2", TINY)


@pytest.fixture(scope="module")
def latents_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's state folder is a fresh tmp one; this is its latents cache."""
    return tmp_path_factory.mktemp("state") / "cache" / "xtts-latents"


@pytest.fixture(scope="module")
def xtts(model_dir: Path, latents_dir: Path, profile_address: str) -> Iterator[tts_pb2_grpc.TextToSpeechServiceStub]:
    args = ["--engine", "xtts", "--model-dir", str(model_dir), "--profile-server", profile_address]
    env = {"LINGUA_STATE_DIR": str(latents_dir.parent.parent), "LINGUA_TTS_XTTS_STREAM_CHUNK": "4"}
    with running("tts_server", *args, env=env) as address, channel(address) as ch:
        yield tts_pb2_grpc.TextToSpeechServiceStub(ch)


@pytest.fixture(scope="module")
def with_speakers(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tts_pb2_grpc.TextToSpeechServiceStub]:
    """The same model with a speakers_xtts.pth, a French default, and a profile server that is down."""
    folder = tmp_path_factory.mktemp("models") / "xtts-speakers"
    folder.mkdir()
    for name in ("config.json", "model.pth", "vocab.json"):
        (folder / name).symlink_to(model_dir / name)
    write_speakers(folder, SPEAKERS, TINY.channels)
    args = ["--engine", "xtts", "--model-dir", str(folder), "--profile-server", "127.0.0.1:9"]
    env = {"LINGUA_STATE_DIR": str(tmp_path_factory.mktemp("state")), "LINGUA_TTS_DEFAULT_VOICES": "fr=Ana Florence"}
    with running("tts_server", *args, env=env) as address, channel(address) as ch:
        yield tts_pb2_grpc.TextToSpeechServiceStub(ch)


@pytest.fixture(scope="module")
def profiles(profile_address: str) -> Iterator[profile_pb2_grpc.VoiceProfileServiceStub]:
    with channel(profile_address) as ch:
        yield profile_pb2_grpc.VoiceProfileServiceStub(ch)


def enroll(profiles: profile_pb2_grpc.VoiceProfileServiceStub, profile_id: str, pitch: float = 1.0) -> None:
    """Enroll the prompts' speaker; pitch > 1 plays them faster, a higher voice."""
    fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000)

    def requests() -> Iterator[profile_pb2.EnrollRequest]:
        yield profile_pb2.EnrollRequest(metadata=profile_pb2.EnrollMetadata(profile_id=profile_id, format=fmt))
        for name in PROMPTS:
            audio = resample(corpus.prompt_float(name), 16000, round(16000 / pitch))
            yield profile_pb2.EnrollRequest(sample=to_pcm16(audio))

    profiles.Enroll(requests(), timeout=TIMEOUT)


def cached(latents_dir: Path, profile_id: str) -> list[Path]:
    return sorted(latents_dir.glob(f"{profile_id}-*.npz"))


def latents(path: Path) -> np.ndarray:
    with np.load(path) as data:
        return np.concatenate([data["latents"].ravel(), data["speaker"].ravel()])


def server_log(capfd: pytest.CaptureFixture[str], words: str) -> bool:
    """Whether the server (its log is echoed to stderr) says words within a few seconds."""
    seen: list[str] = []

    def said() -> bool:
        seen.append(capfd.readouterr().err)
        return words in "".join(seen)

    return wait_for(said, 10)


def test_streams_the_profile_voice_and_caches_its_latents(
    xtts: tts_pb2_grpc.TextToSpeechServiceStub,
    profiles: profile_pb2_grpc.VoiceProfileServiceStub,
    latents_dir: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    enroll(profiles, "xtts-alice")
    responses = speak(xtts, [config("es", profile="xtts-alice"), text("Hola a todos."), flush()])
    audio = check_stream(responses, 16000)
    assert responses[0].marker.voice_name == "profile:xtts-alice"
    kinds = [r.WhichOneof("response") for r in responses]
    assert kinds.count("audio") >= 3, "one sentence should stream as several chunks"
    assert len(audio) / 16000 == pytest.approx(PIECE_SECONDS, abs=0.04)
    assert server_log(capfd, "latents for profile xtts-alice: cache miss")
    [first] = cached(latents_dir, "xtts-alice")
    before = first.stat()

    responses = speak(xtts, [config("fr", profile="xtts-alice"), text("Bonjour."), flush()])
    check_stream(responses, 16000)
    assert server_log(capfd, "latents for profile xtts-alice: cache hit (memory)")
    assert cached(latents_dir, "xtts-alice") == [first]
    after = first.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "latents were rewritten"


def test_reenrollment_and_other_speakers_get_their_own_latents(
    xtts: tts_pb2_grpc.TextToSpeechServiceStub,
    profiles: profile_pb2_grpc.VoiceProfileServiceStub,
    latents_dir: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    enroll(profiles, "xtts-bob")
    speak(xtts, [config("de", profile="xtts-bob"), text("Guten Tag."), flush()])
    [old] = cached(latents_dir, "xtts-bob")
    enroll(profiles, "xtts-bob")
    speak(xtts, [config("de", profile="xtts-bob"), text("Guten Tag."), flush()])
    assert server_log(capfd, "latents for profile xtts-bob: cache miss")
    [new] = [path for path in cached(latents_dir, "xtts-bob") if path != old]
    np.testing.assert_allclose(latents(new), latents(old), atol=1e-5, err_msg="same audio, different latents")

    enroll(profiles, "xtts-carol", pitch=1.25)
    speak(xtts, [config("it", profile="xtts-carol"), text("Buongiorno."), flush()])
    [carol] = cached(latents_dir, "xtts-carol")
    difference = np.linalg.norm(latents(carol) - latents(old)) / np.linalg.norm(latents(old))
    assert difference > 0.01, "a higher voice should condition XTTS differently"


def test_default_voice_and_list(xtts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    [voice] = xtts.ListVoices(tts_pb2.ListVoicesRequest(language_code="pt"), timeout=TIMEOUT).voices
    assert (voice.name, voice.engine, voice.native_sample_rate_hertz) == ("xtts-default", "xtts", 24000)
    assert {"en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "hu", "ko", "hi"} <= set(
        voice.language_codes
    )
    responses = speak(xtts, [config("pt-BR", rate=8000), text("Bom dia."), flush()])
    audio = check_stream(responses, 8000)
    assert responses[0].marker.type == START and responses[0].marker.voice_name == "xtts-default"
    assert len(audio) / 8000 == pytest.approx(PIECE_SECONDS, abs=0.04)


def test_named_speakers_and_profile_server_down(with_speakers: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    voices = with_speakers.ListVoices(tts_pb2.ListVoicesRequest(language_code="fr"), timeout=TIMEOUT).voices
    assert [v.name for v in voices] == list(SPEAKERS)
    for language, voice, spoken in [("en", "", SPEAKERS[0]), ("fr", "", SPEAKERS[1]), ("es", SPEAKERS[1], SPEAKERS[1])]:
        responses = speak(with_speakers, [config(language, voice=voice), text("Hello."), flush()])
        check_stream(responses, 16000)
        assert responses[0].marker.voice_name == spoken
    with pytest.raises(grpc.RpcError) as caught:
        speak(with_speakers, [config("en", profile="anyone"), text("Hello."), flush()])
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1:9" in caught.value.details()


@pytest.mark.parametrize(
    ("request_", "code", "words"),
    [
        (config("en", profile="nobody-here"), grpc.StatusCode.NOT_FOUND, ["nobody-here", "not found"]),
        (config("sw"), grpc.StatusCode.INVALID_ARGUMENT, ["unsupported", "'sw'", "en, es, fr"]),
        (config("sw", profile="nobody-here"), grpc.StatusCode.INVALID_ARGUMENT, ["'sw'", "supported:"]),
    ],
)
def test_rejects(
    xtts: tts_pb2_grpc.TextToSpeechServiceStub,
    request_: tts_pb2.StreamingSynthesizeRequest,
    code: grpc.StatusCode,
    words: list[str],
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        speak(xtts, [request_, text("Hello."), flush()])
    assert caught.value.code() == code
    for word in words:
        assert word in caught.value.details()


@pytest.mark.parametrize("missing", ["folder", "model.pth"])
def test_missing_model_stops_the_server(model_dir: Path, tmp_path: Path, missing: str) -> None:
    folder = tmp_path / "xtts-v2"
    if missing != "folder":
        folder.mkdir()
        for name in ("config.json", "vocab.json"):
            (folder / name).write_bytes((model_dir / name).read_bytes())
    absent = folder if missing == "folder" else folder / missing
    output = failed_start("tts_server", "--engine", "xtts", "--model-dir", str(folder))
    assert str(absent) in output and "docs/production.md#xtts" in output
