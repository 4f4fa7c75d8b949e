"""TextToSpeechService over a real socket: languages, framing, streaming order, validation, voice matching."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

import grpc
import numpy as np
import pytest

import corpus
from clients.launch import running
from lingua.audio.v1 import audio_pb2
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tests.conftest import channel

START = tts_pb2.SEGMENT_MARKER_TYPE_START
END = tts_pb2.SEGMENT_MARKER_TYPE_END
TIMEOUT = 180


@pytest.fixture(scope="module")
def tts(tts_address: str) -> Iterator[tts_pb2_grpc.TextToSpeechServiceStub]:
    with channel(tts_address) as ch:
        yield tts_pb2_grpc.TextToSpeechServiceStub(ch)


def config(language: str, rate: int = 0, voice: str = "", profile: str = "") -> tts_pb2.StreamingSynthesizeRequest:
    cfg = tts_pb2.SynthesisConfig(
        language_code=language,
        format=audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=rate),
    )
    if voice:
        cfg.voice_name = voice
    if profile:
        cfg.voice_profile_id = profile
    return tts_pb2.StreamingSynthesizeRequest(config=cfg)


def text(piece: str, segment: str = "s1") -> tts_pb2.StreamingSynthesizeRequest:
    return tts_pb2.StreamingSynthesizeRequest(text=tts_pb2.TextInput(text=piece, segment_id=segment))


def flush(segment: str = "s1") -> tts_pb2.StreamingSynthesizeRequest:
    return tts_pb2.StreamingSynthesizeRequest(flush=tts_pb2.Flush(segment_id=segment))


def speak(
    tts: tts_pb2_grpc.TextToSpeechServiceStub, requests: Iterable[tts_pb2.StreamingSynthesizeRequest]
) -> list[tts_pb2.StreamingSynthesizeResponse]:
    return list(tts.StreamingSynthesize(iter(requests), timeout=TIMEOUT))


def samples(responses: list[tts_pb2.StreamingSynthesizeResponse], segment: str | None = None) -> np.ndarray:
    data = b"".join(
        r.audio.audio_content
        for r in responses
        if r.WhichOneof("response") == "audio" and segment in (None, r.audio.segment_id)
    )
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def markers(responses: list[tts_pb2.StreamingSynthesizeResponse]) -> list[tts_pb2.SegmentMarker]:
    return [r.marker for r in responses if r.WhichOneof("response") == "marker"]


def check_stream(responses: list[tts_pb2.StreamingSynthesizeResponse], rate: int) -> np.ndarray:
    """One segment: START, whole-frame audio, END with the right duration; returns the audio."""
    kinds = [r.WhichOneof("response") for r in responses]
    assert kinds[0] == "marker" and responses[0].marker.type == START
    assert kinds[-1] == "marker" and responses[-1].marker.type == END
    assert kinds.count("marker") == 2 and kinds.count("audio") >= 1
    frame = rate * 20 // 1000 * 2
    for r in responses[1:-1]:
        assert len(r.audio.audio_content) > 0
        assert len(r.audio.audio_content) % frame == 0, "audio chunks must be whole 20 ms frames"
        assert r.audio.segment_id == responses[0].marker.segment_id
    audio = samples(responses)
    end = responses[-1].marker
    assert end.audio_duration.ToNanoseconds() / 1e9 == pytest.approx(len(audio) / rate, abs=1e-6)
    assert responses[0].marker.voice_name == end.voice_name != ""
    return audio


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio**2))) if len(audio) else 0.0


@pytest.mark.parametrize(
    ("language", "sentence", "voice", "engine"),
    [
        ("en-US", "Good morning, everyone. The meeting will start in five minutes.", "en_US-joe-medium", "piper"),
        ("es", "Buenos días a todos. La reunión empieza en cinco minutos.", "jf_alpha", "kokoro"),
        ("fr-FR", "Bonjour à tous. La réunion commence dans cinq minutes.", "pico-fr-FR", "pico"),
        ("pt-BR", "Bom dia a todos. A reunião começa em cinco minutos.", "mbrola-br1", "mbrola"),
        ("de", "Guten Morgen zusammen. Die Besprechung beginnt in fünf Minuten.", "espeak-male", "espeak"),
    ],
)
def test_synthesizes_each_engine(
    tts: tts_pb2_grpc.TextToSpeechServiceStub, language: str, sentence: str, voice: str, engine: str
) -> None:
    voices = {v.name: v.engine for v in tts.ListVoices(tts_pb2.ListVoicesRequest(), timeout=TIMEOUT).voices}
    responses = speak(tts, [config(language, voice=voice), text(sentence), flush()])
    audio = check_stream(responses, 16000)
    assert responses[0].marker.voice_name == voice and voices[voice] == engine
    seconds = len(audio) / 16000
    assert 2.0 < seconds < 12.0, f"{seconds:.2f} s of audio for a two-sentence text"
    assert rms(audio) > 0.02, "audio is silent"
    assert np.abs(audio).max() > 0.1


def test_sample_rate_is_respected(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    sentence = "The quick brown fox jumps over the lazy dog."
    lengths = {}
    for rate in (8000, 16000, 48000):
        responses = speak(tts, [config("en", rate, voice="espeak-male"), text(sentence), flush()])
        lengths[rate] = len(check_stream(responses, rate))
    assert lengths[16000] / lengths[8000] == pytest.approx(2.0, rel=0.01)
    assert lengths[48000] / lengths[16000] == pytest.approx(3.0, rel=0.01)


def test_default_rate_is_16k(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    req = config("en", voice="espeak-male")
    req.config.ClearField("format")
    responses = speak(tts, [req, text("Testing the default rate."), flush()])
    audio = check_stream(responses, 16000)
    assert 0.8 < len(audio) / 16000 < 4.0


def test_first_audio_before_flush(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    """A completed sentence is spoken while more text is still to come and no flush was sent."""
    story = (
        "Welcome to the quarterly review. Today we will look at the results of every team. "
        "After that, we will discuss the plans for the next quarter, and then take questions."
    )
    heard = threading.Event()
    flushed_after_audio: list[bool] = []

    def requests() -> Iterator[tts_pb2.StreamingSynthesizeRequest]:
        yield config("en")
        for i in range(0, len(story), 9):
            yield text(story[i : i + 9])
        flushed_after_audio.append(heard.wait(60))
        yield flush()

    responses = []
    for response in tts.StreamingSynthesize(requests(), timeout=TIMEOUT):
        if response.WhichOneof("response") == "audio":
            heard.set()
        responses.append(response)
    assert flushed_after_audio == [True], "no audio arrived before the flush"
    audio = check_stream(responses, 16000)
    assert len(audio) / 16000 > 6.0, "the whole text should be spoken"


def test_half_close_flushes(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    responses = speak(tts, [config("en"), text("No flush is sent, yet this", "a"), text(" must be spoken", "a")])
    audio = check_stream(responses, 16000)
    assert responses[0].marker.segment_id == "a"
    assert rms(audio) > 0.02


def test_segments_in_order(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    responses = speak(
        tts,
        [
            config("en", voice="espeak-female"),
            text("First segment.", "one"),
            flush("one"),
            text("Second segment", "two"),
            text(" comes next.", "two"),
            flush("two"),
            flush("three"),
        ],
    )
    assert [(m.type, m.segment_id) for m in markers(responses)] == [
        (START, "one"),
        (END, "one"),
        (START, "two"),
        (END, "two"),
        (START, "three"),
        (END, "three"),
    ]
    assert len(samples(responses, "one")) > 0 and len(samples(responses, "two")) > len(samples(responses, "one"))
    assert markers(responses)[-1].audio_duration.ToNanoseconds() == 0


def test_list_voices(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    voices = tts.ListVoices(tts_pb2.ListVoicesRequest(), timeout=TIMEOUT).voices
    by_name = {v.name: v for v in voices}
    assert by_name["en_US-joe-medium"].engine == "piper"
    assert by_name["en_US-joe-medium"].native_sample_rate_hertz == 22050
    assert list(by_name["en_US-joe-medium"].language_codes) == ["en"]
    assert by_name["jf_alpha"].engine == "kokoro"
    assert by_name["jf_alpha"].native_sample_rate_hertz == 24000
    assert {"en", "es", "fr", "it", "pt", "hi", "zh"} <= set(by_name["jf_alpha"].language_codes)
    assert by_name["espeak-female"].engine == "espeak"
    assert {"de", "sw", "en", "fi"} <= set(by_name["espeak-female"].language_codes)
    assert by_name["pico-de-DE"].engine == "pico" and by_name["pico-de-DE"].gender == "female"
    assert by_name["mbrola-br1"].gender == "male" and list(by_name["mbrola-br1"].language_codes) == ["pt"]
    assert by_name["en_US-joe-medium"].gender == "male" and by_name["jm_kumo"].gender == "male"

    spanish = {v.name for v in tts.ListVoices(tts_pb2.ListVoicesRequest(language_code="es-MX"), timeout=TIMEOUT).voices}
    assert "jf_alpha" in spanish and "espeak-male" in spanish and "en_US-joe-medium" not in spanish
    german = {v.name for v in tts.ListVoices(tts_pb2.ListVoicesRequest(language_code="de"), timeout=TIMEOUT).voices}
    assert german == {
        "espeak-male",
        "espeak-female",
        "pico-de-DE",
        "mbrola-de1",
        "mbrola-de2",
        "mbrola-de4",
        "mbrola-de5",
    }


@pytest.mark.parametrize(
    ("requests", "code", "words"),
    [
        ([text("Hello."), flush()], grpc.StatusCode.INVALID_ARGUMENT, ["first message must be config"]),
        ([config("xx"), text("Hello.")], grpc.StatusCode.INVALID_ARGUMENT, ["unsupported", "'xx'", "supported:", "es"]),
        ([config(""), text("Hello.")], grpc.StatusCode.INVALID_ARGUMENT, ["language_code is required"]),
        ([config("en", voice="nobody")], grpc.StatusCode.INVALID_ARGUMENT, ["unknown voice 'nobody'", "jf_alpha"]),
        ([config("es", voice="en_US-joe-medium")], grpc.StatusCode.INVALID_ARGUMENT, ["does not speak 'es'"]),
        ([config("en", rate=12345)], grpc.StatusCode.INVALID_ARGUMENT, ["12345", "16000", "48000"]),
        ([config("en", profile="no-such-profile")], grpc.StatusCode.NOT_FOUND, ["no-such-profile", "not found"]),
        ([config("en"), config("en")], grpc.StatusCode.INVALID_ARGUMENT, ["only be sent as the first"]),
        ([config("en"), tts_pb2.StreamingSynthesizeRequest()], grpc.StatusCode.INVALID_ARGUMENT, ["empty message"]),
        ([], grpc.StatusCode.INVALID_ARGUMENT, ["closed before the config"]),
    ],
)
def test_rejects_bad_requests(
    tts: tts_pb2_grpc.TextToSpeechServiceStub,
    requests: list[tts_pb2.StreamingSynthesizeRequest],
    code: grpc.StatusCode,
    words: list[str],
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        speak(tts, requests)
    assert caught.value.code() == code
    for word in words:
        assert word in caught.value.details()


def test_list_voices_rejects_malformed_language(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        tts.ListVoices(tts_pb2.ListVoicesRequest(language_code="12"), timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "BCP-47" in caught.value.details()


@pytest.fixture(scope="module")
def female_profile(profile_address: str) -> str:
    """A profile enrolled from four prompts read by the core-sounds speaker (a woman)."""
    fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000)
    prompts = ["agent-loginok", "conf-getpin", "vm-nobodyavail", "conf-onlyperson"]

    def requests() -> Iterator[profile_pb2.EnrollRequest]:
        metadata = profile_pb2.EnrollMetadata(profile_id="tts-test-speaker", display_name="Prompts", format=fmt)
        metadata.language_code = "en"
        yield profile_pb2.EnrollRequest(metadata=metadata)
        for name in prompts:
            yield profile_pb2.EnrollRequest(sample=corpus.prompt_pcm16(name))

    with channel(profile_address) as ch:
        response = profile_pb2_grpc.VoiceProfileServiceStub(ch).Enroll(requests(), timeout=TIMEOUT)
    return response.profile.profile_id


@pytest.mark.parametrize(("language", "sentence"), [("en", "Thank you for calling."), ("de", "Vielen Dank.")])
def test_voice_profile_picks_a_matching_voice(
    tts: tts_pb2_grpc.TextToSpeechServiceStub, female_profile: str, language: str, sentence: str
) -> None:
    responses = speak(tts, [config(language, profile=female_profile), text(sentence), flush()])
    audio = check_stream(responses, 16000)
    assert rms(audio) > 0.02
    chosen = responses[0].marker.voice_name
    names = {part.split("*")[0] for part in chosen.split("+")}
    speakers = {v.name: v for v in tts.ListVoices(tts_pb2.ListVoicesRequest(language_code=language)).voices}
    assert names <= set(speakers), f"{chosen} is not made of voices that speak {language}"
    assert {speakers[name].gender for name in names} == {"female"}, f"a woman's profile got {chosen}"


def test_japanese_and_chinese(tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    japanese = {v.name for v in tts.ListVoices(tts_pb2.ListVoicesRequest(language_code="ja"), timeout=TIMEOUT).voices}
    if "jf_alpha" not in japanese:
        pytest.skip("Kokoro's Japanese frontend (pyopenjtalk-plus) is not installed")
    for language, sentence in [("ja", "こんにちは。会議を始めます。"), ("zh-CN", "大家好\uff0c会议现在开始。")]:
        responses = speak(tts, [config(language), text(sentence), flush()])
        audio = check_stream(responses, 16000)
        assert responses[0].marker.voice_name == "jf_alpha"
        assert len(audio) / 16000 > 1.0 and rms(audio) > 0.02


@pytest.fixture(scope="module")
def lone_tts() -> Iterator[tts_pb2_grpc.TextToSpeechServiceStub]:
    """A server with no profile server, whose Spanish default voice is overridden."""
    with running("tts_server", "--default-voices", "es=espeak-female") as address, channel(address) as ch:
        yield tts_pb2_grpc.TextToSpeechServiceStub(ch)


def test_without_profile_server(lone_tts: tts_pb2_grpc.TextToSpeechServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        speak(lone_tts, [config("en", profile="anyone"), text("Hello."), flush()])
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "--profile-server" in caught.value.details()
    responses = speak(lone_tts, [config("es"), text("Hola a todos."), flush()])
    check_stream(responses, 16000)
    assert responses[0].marker.voice_name == "espeak-female"
