"""SpeechToTextService over a real socket: accuracy, event order, partials, validation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration

import corpus
from clients.launch import running
from clients.speech import channel, transcribe
from common.audio import resample, to_pcm16
from lingua.audio.v1 import audio_pb2
from lingua.stt.v1 import stt_pb2, stt_pb2_grpc
from stt_server.__main__ import DETECT_LANGUAGES, TURN_THRESHOLD
from stt_server.turn import TurnModel

RATE = 16000
CHUNK_MS = 20
ARABIC_LOOKING = "confbridge-menu-exit-in"
"""A Spanish core-sounds prompt ("Para salir del menú...") that unrestricted Whisper base detects as Arabic."""
START = stt_pb2.SPEECH_EVENT_TYPE_SPEECH_START
END = stt_pb2.SPEECH_EVENT_TYPE_SPEECH_END


def silence(seconds: float, rate: int = RATE) -> bytes:
    """Digital silence, LINEAR16."""
    return b"\x00\x00" * int(seconds * rate)


def config(**kwargs: object) -> stt_pb2.StreamingRecognizeRequest:
    """A config message; English at 16 kHz unless kwargs say otherwise."""
    kwargs.setdefault("language_code", "en")
    kwargs.setdefault(
        "format", audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE)
    )
    return stt_pb2.StreamingRecognizeRequest(config=stt_pb2.RecognitionConfig(**kwargs))  # type: ignore[arg-type]


def audio_requests(audio: bytes, rate: int = RATE, pace: float = 0.0) -> Iterator[stt_pb2.StreamingRecognizeRequest]:
    """20 ms chunks; pace > 0 sends at pace times real time."""
    step = rate * CHUNK_MS // 1000 * 2
    started = time.monotonic()
    for i, offset in enumerate(range(0, len(audio), step)):
        if pace:
            time.sleep(max(0.0, started + i * CHUNK_MS / 1000 / pace - time.monotonic()))
        yield stt_pb2.StreamingRecognizeRequest(audio=audio[offset : offset + step])


def recognize(
    address: str, audio: bytes, rate: int = RATE, pace: float = 0.0, **kwargs: object
) -> list[stt_pb2.StreamingRecognizeResponse]:
    """Stream audio after a config built from kwargs; return every response."""
    kwargs.setdefault("format", audio_pb2.AudioFormat(sample_rate_hertz=rate))

    def stream() -> Iterator[stt_pb2.StreamingRecognizeRequest]:
        yield config(**kwargs)
        yield from audio_requests(audio, rate, pace)

    with channel(address) as ch:
        return list(stt_pb2_grpc.SpeechToTextServiceStub(ch).StreamingRecognize(stream(), timeout=120))


def seconds(d: Duration) -> float:
    """A Duration in seconds."""
    return d.ToTimedelta().total_seconds()


@dataclass
class Utterance:
    """One utterance's responses, checked for order as they are collected."""

    id: int
    start: float
    partials: list[stt_pb2.RecognitionResult] = field(default_factory=list)
    final: stt_pb2.RecognitionResult | None = None
    end: float | None = None


def utterances(responses: list[stt_pb2.StreamingRecognizeResponse], duration: float) -> list[Utterance]:
    """Group responses by utterance, asserting SPEECH_START < partials < final < SPEECH_END."""
    done: list[Utterance] = []
    current: Utterance | None = None
    for r in responses:
        if r.HasField("speech_event"):
            event = r.speech_event
            if event.type == START:
                assert current is None, f"SPEECH_START inside utterance {current}"
                assert event.utterance_id == len(done) + 1, "utterance ids count from 1"
                current = Utterance(event.utterance_id, seconds(event.offset))
            else:
                assert event.type == END
                assert current is not None and current.final is not None, "SPEECH_END before the final"
                assert event.utterance_id == current.id
                current.end = seconds(event.offset)
                done.append(current)
                current = None
        else:
            result = r.result
            assert current is not None and current.final is None, "result outside an open utterance"
            assert result.utterance_id == current.id
            assert seconds(result.start_offset) == pytest.approx(current.start)
            assert 0.0 <= result.stability <= 1.0
            assert result.transcript.startswith(result.stable_transcript)
            if result.is_final:
                current.final = result
            else:
                current.partials.append(result)
    assert current is None, "stream ended inside an utterance"
    for u in done:
        assert u.final is not None and u.end is not None
        assert 0.0 <= u.start < seconds(u.final.end_offset) <= duration + 0.05
        assert u.end == pytest.approx(seconds(u.final.end_offset))
    return done


def words(text: str) -> list[str]:
    """Lower-case words, punctuation kept."""
    return [w.lower() for w in text.split()]


def test_english_prompts_wer(stt_address: str) -> None:
    transcripts = corpus.transcripts("en")
    errors = total = 0
    for name in corpus.EN_SET:
        speech = corpus.prompt_pcm16(name)
        audio = silence(0.3) + speech + silence(0.6)
        utts = utterances(recognize(stt_address, audio), len(audio) / 2 / RATE)
        assert utts, f"{name}: no utterance detected"
        finals = [u.final for u in utts if u.final is not None]
        hypothesis = " ".join(f.transcript for f in finals)
        assert all(f.language_code == "en" for f in finals)
        assert utts[0].start == pytest.approx(0.3, abs=0.35)
        assert seconds(finals[-1].end_offset) == pytest.approx(0.3 + len(speech) / 2 / RATE, abs=0.35)
        e, n = corpus.word_errors(transcripts[name], hypothesis)
        errors += e
        total += n
        print(f"{name:24s} {e}/{n}  {hypothesis!r}")
    wer = errors / total
    print(f"total WER {wer:.3f} ({errors}/{total} words, {len(corpus.EN_SET)} prompts)")
    assert wer < 0.15


@pytest.mark.parametrize("language_code", ["", "auto"])
def test_detects_english(stt_address: str, language_code: str) -> None:
    audio = silence(0.2) + corpus.prompt_pcm16("conf-onlyperson") + silence(0.5)
    (utt,) = utterances(recognize(stt_address, audio, language_code=language_code), len(audio) / 2 / RATE)
    assert utt.final is not None
    assert utt.final.language_code == "en"
    assert corpus.wer(corpus.transcripts("en")["conf-onlyperson"], utt.final.transcript) < 0.3


def test_detection_answers_only_allowed_languages(stt_address: str) -> None:
    """alternative_language_codes bounds what detection may answer, even against the evidence."""
    audio = silence(0.2) + corpus.prompt_pcm16("conf-onlyperson") + silence(0.5)
    responses = recognize(stt_address, audio, language_code="auto", alternative_language_codes=["fr-FR", "de"])
    (utt,) = utterances(responses, len(audio) / 2 / RATE)
    assert utt.final is not None and utt.final.language_code in ("fr", "de")


def test_detection_defaults_to_the_conference_languages(stt_address: str) -> None:
    """A Spanish prompt that unrestricted Whisper takes for Arabic is detected as a conference language by default."""
    audio = silence(0.2) + corpus.prompt_pcm16(ARABIC_LOOKING, "es") + silence(0.5)
    with running("stt_server", "--detect-languages", "") as unrestricted:
        (free,) = utterances(recognize(unrestricted, audio, language_code="auto"), len(audio) / 2 / RATE)
    (bounded,) = utterances(recognize(stt_address, audio, language_code="auto"), len(audio) / 2 / RATE)
    assert free.final is not None and free.final.language_code == "ar"
    assert bounded.final is not None and bounded.final.language_code in DETECT_LANGUAGES
    assert not re.search("[\u0600-\u06ff]", bounded.final.transcript), "no Arabic script for Spanish speech"


def test_english_on_tiny_en() -> None:
    """--english-model tiny.en decodes English streams with Whisper tiny.en; other languages stay on base."""
    with running("stt_server", "--english-model", "tiny.en") as address:
        for language, name in (("en", "vm-nobodyavail"), ("es", "demo-thanks")):
            audio = silence(0.2) + corpus.prompt_pcm16(name, language) + silence(0.5)
            (utt,) = utterances(recognize(address, audio, language_code=language), len(audio) / 2 / RATE)
            assert utt.final is not None
            assert corpus.wer(corpus.transcripts(language)[name], utt.final.transcript, folded=True) < 0.35


def test_half_close_finishes_open_utterance(stt_address: str) -> None:
    audio = silence(0.2) + corpus.prompt_pcm16("vm-nobodyavail")
    (utt,) = utterances(recognize(stt_address, audio), len(audio) / 2 / RATE)
    assert utt.final is not None
    assert corpus.wer(corpus.transcripts("en")["vm-nobodyavail"], utt.final.transcript) < 0.3


def test_partials_are_stable_prefixes_of_the_final(stt_address: str) -> None:
    audio = silence(0.2) + corpus.prompt_pcm16("demo-thanks") + silence(0.6)
    responses = recognize(stt_address, audio, pace=1.5, interim_results=True)
    (utt,) = utterances(responses, len(audio) / 2 / RATE)
    assert utt.final is not None
    final = words(utt.final.transcript)
    print("partials:", [(p.stable_transcript, p.transcript) for p in utt.partials])
    print("final:", utt.final.transcript)
    assert len(utt.partials) >= 2
    assert any(p.stable_transcript for p in utt.partials), "nothing was ever committed"
    committed = 0
    for p in utt.partials:
        stable = words(p.stable_transcript)
        assert final[: len(stable)] == stable, f"{p.stable_transcript!r} is not a prefix of the final"
        assert len(stable) >= committed, "the committed prefix shrank"
        committed = len(stable)
        assert p.stability == pytest.approx(len(p.stable_transcript) / max(1, len(p.transcript)), abs=1e-3)
    assert corpus.wer(corpus.transcripts("en")["demo-thanks"], utt.final.transcript) < 0.3


def test_no_partials_without_interim_results(stt_address: str) -> None:
    audio = silence(0.2) + corpus.prompt_pcm16("demo-thanks") + silence(0.6)
    (utt,) = utterances(recognize(stt_address, audio, pace=1.5), len(audio) / 2 / RATE)
    assert utt.partials == []


def test_two_utterances_separated_by_silence(stt_address: str) -> None:
    first, second = "conf-onlyperson", "queue-thankyou"
    audio = silence(0.2) + corpus.prompt_pcm16(first) + silence(1.0) + corpus.prompt_pcm16(second) + silence(0.5)
    utts = utterances(recognize(stt_address, audio, endpoint_silence_ms=400), len(audio) / 2 / RATE)
    assert [u.id for u in utts] == [1, 2]
    assert utts[0].final is not None and utts[1].final is not None
    assert seconds(utts[0].final.end_offset) < utts[1].start
    transcripts = corpus.transcripts("en")
    assert corpus.wer(transcripts[first], utts[0].final.transcript) < 0.3
    assert corpus.wer(transcripts[second], utts[1].final.transcript) < 0.3


def test_concurrent_streams_share_the_model(stt_address: str) -> None:
    names = ["conf-getpin", "vm-nobodyavail", "queue-thankyou", "conf-kicked"]

    def one(name: str) -> str:
        audio = silence(0.2) + corpus.prompt_pcm16(name) + silence(0.5)
        utts = utterances(recognize(stt_address, audio, pace=2.0, interim_results=True), len(audio) / 2 / RATE)
        return " ".join(u.final.transcript for u in utts if u.final)

    with ThreadPoolExecutor(len(names)) as pool:
        hypotheses = list(pool.map(one, names))
    transcripts = corpus.transcripts("en")
    for name, hypothesis in zip(names, hypotheses, strict=True):
        print(f"{name:16s} {hypothesis!r}")
        assert corpus.wer(transcripts[name], hypothesis) < 0.3


def test_silence_only_gives_no_events(stt_address: str) -> None:
    assert recognize(stt_address, silence(2.0)) == []
    assert recognize(stt_address, b"") == []


@pytest.mark.parametrize("rate", [8000, 48000])
def test_other_sample_rates_are_resampled(stt_address: str, rate: int) -> None:
    name = "vm-nobodyavail"
    speech = resample(corpus.prompt_float(name), RATE, rate)
    audio = silence(0.2, rate) + to_pcm16(speech) + silence(0.5, rate)
    (utt,) = utterances(recognize(stt_address, audio, rate=rate), len(audio) / 2 / rate)
    assert utt.final is not None
    print(rate, utt.final.transcript)
    assert corpus.wer(corpus.transcripts("en")[name], utt.final.transcript) < 0.3


@pytest.mark.parametrize(("language_code", "name"), [("es-ES", "demo-thanks"), ("fr", "conf-onlyperson")])
def test_spanish_and_french(stt_address: str, language_code: str, name: str) -> None:
    lang = language_code[:2]
    audio = silence(0.2) + corpus.prompt_pcm16(name, lang) + silence(0.6)
    utts = utterances(recognize(stt_address, audio, language_code=language_code), len(audio) / 2 / RATE)
    hypothesis = " ".join(u.final.transcript for u in utts if u.final)
    reference = corpus.transcripts(lang)[name]
    print(language_code, repr(hypothesis), "| reference:", repr(reference))
    assert all(u.final is not None and u.final.language_code == language_code for u in utts)
    # References lack accents ("codigo"), so allow some slack.
    assert corpus.wer(reference, hypothesis) < 0.4


def test_max_utterance_forces_a_final() -> None:
    with running("stt_server", "--max-utterance-s", "2") as address:
        audio = silence(0.2) + corpus.prompt_pcm16("demo-thanks") + silence(0.5)
        utts = utterances(recognize(address, audio), len(audio) / 2 / RATE)
    assert len(utts) >= 2
    for u in utts:
        assert u.final is not None
        assert seconds(u.final.end_offset) - u.start <= 2.05
    hypothesis = " ".join(u.final.transcript for u in utts if u.final)
    assert corpus.wer(corpus.transcripts("en")["demo-thanks"], hypothesis) < 0.5


def expect_invalid(address: str, requests: list[stt_pb2.StreamingRecognizeRequest], *fragments: str) -> None:
    """The stream fails with INVALID_ARGUMENT and a message naming each fragment."""
    with channel(address) as ch:
        stub = stt_pb2_grpc.SpeechToTextServiceStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            list(stub.StreamingRecognize(iter(requests), timeout=30))
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    for fragment in fragments:
        assert fragment in err.details(), err.details()


def audio(data: bytes) -> stt_pb2.StreamingRecognizeRequest:
    """An audio message."""
    return stt_pb2.StreamingRecognizeRequest(audio=data)


def test_config_must_come_first(stt_address: str) -> None:
    expect_invalid(stt_address, [audio(silence(0.02)), config()], "first message must be config")


def test_config_only_once(stt_address: str) -> None:
    expect_invalid(stt_address, [config(), audio(silence(0.02)), config()], "only be sent as the first message")


def test_unsupported_sample_rate(stt_address: str) -> None:
    fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=11025)
    expect_invalid(stt_address, [config(format=fmt), audio(silence(0.02))], "11025", "16000")


def test_odd_byte_count(stt_address: str) -> None:
    expect_invalid(stt_address, [config(), audio(silence(0.02)), audio(b"\x00" * 641)], "even byte count", "641")


@pytest.mark.parametrize("language_code", ["xx", "klingon", "tlh-US"])
def test_unknown_language(stt_address: str, language_code: str) -> None:
    expect_invalid(stt_address, [config(language_code=language_code)], language_code)


def test_unknown_alternative_language(stt_address: str) -> None:
    expect_invalid(
        stt_address, [config(language_code="auto", alternative_language_codes=["es", "xx"])], "alternative", "'xx'"
    )


@pytest.mark.parametrize("endpoint", [-1, 50, 5001])
def test_bad_endpoint_silence(stt_address: str, endpoint: int) -> None:
    expect_invalid(stt_address, [config(endpoint_silence_ms=endpoint)], "endpoint_silence_ms", "100..5000")


def test_unit_helpers() -> None:
    from stt_server.engines.whisper import trim_loop
    from stt_server.resample import StreamResampler
    from stt_server.stream import agreement

    loop = ["Follow", "that", "key.", "Follow", "that", "key.", "Follow"]
    assert trim_loop(loop, 0) == ["Follow", "that", "key."]
    assert trim_loop(loop, 5) == loop[:5]
    assert trim_loop(["thank", "you", "thank", "you"], 0) == ["thank", "you", "thank", "you"]
    assert agreement(["Hello,", "world", "how"], ["hello", "world.", "are"]) == 2
    signal = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    stream = StreamResampler(8000, RATE)
    pieces = [stream.push(signal[i : i + 137]) for i in range(0, len(signal), 137)]
    out = np.concatenate([*pieces, stream.flush()])
    np.testing.assert_allclose(out, resample(signal, 8000, RATE), atol=1e-5)


def test_smart_turn_tells_a_finished_turn_from_a_cut_one() -> None:
    model = TurnModel()
    whole = corpus.prompt_float("conf-getpin")
    assert model.probability(whole) > TURN_THRESHOLD > model.probability(whole[: len(whole) // 2])


def test_a_finished_turn_closes_before_the_endpoint(stt_address: str) -> None:
    """With Smart Turn (on by default) a complete sentence closes well before a 2 s endpoint: the final
    arrives while 1.5 s of trailing silence is still being sent; with it off, only the half-close ends it,
    and the speculative final (the same decode) was announced long before."""
    audio = silence(0.2) + corpus.prompt_pcm16("vm-nobodyavail")
    sent = transcribe(stt_address, audio, "en", realtime=True, trailing_silence_s=1.5, endpoint_ms=2000)
    assert len(sent.finals) == 1 and sent.last_final_at() < sent.audio_end + 1.0
    with running("stt_server", "--turn-endpoint-ms", "0") as fixed:
        sent = transcribe(fixed, audio, "en", realtime=True, trailing_silence_s=1.5, endpoint_ms=2000, interim=True)
        (final,) = sent.finals
        assert sent.last_final_at() >= sent.audio_end + 1.4, "only the half-close ends it"
    speculative = [r.result for r in sent.responses if r.HasField("result") and r.result.speculative]
    assert speculative and not speculative[-1].is_final, "the final's decode is announced before the endpoint"
    assert speculative[-1].transcript == final.transcript
