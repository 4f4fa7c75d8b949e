"""Long text: the chunker's cost grows with the text, and the TTS and MT servers refuse text over their limits
with INVALID_ARGUMENT naming the limit, while their event loops keep answering health checks."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.launch import running
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tests.conftest import channel
from tts_server.text import Chunker

TIMEOUT = 120
PROMPT_SECONDS = 1.0
"""A health check must be answered this fast while a long text is chunked and spoken (it takes milliseconds)."""

# Pieces as the chunker cut them before it was made linear (the algorithm that re-scanned the buffer per piece).
CUTS = [
    (
        ["Good morning, everyone. The meeting will start in five minutes, so please take your seats."],
        ["Good morning, everyone.", "The meeting will start in five minutes, so please take your seats."],
    ),
    (
        ["Dr. Smith met Mr. Jones and J. R. Tolkien at 3.5 p.m. today. It went well! Did it?"],
        ["Dr. Smith met Mr. Jones", "and J. R. Tolkien at 3.5 p.m.", "today.", "It went well!", "Did it?"],
    ),
    (["It costs 3.", "5 dollars. ", "Fine."], ["It costs 3.5 dollars.", "Fine."]),
    (
        ["Il a dit « bonjour. » Puis il est parti, sans un mot. Et voilà."],
        ["Il a dit « bonjour. »", "Puis il est parti, sans un mot.", "Et voilà."],
    ),
    (
        ["大家好\uff0c会议现在开始。今天我们讨论三个问题\uff1a预算、时间表和人员。"],
        ["大家好\uff0c会议现在开始。", "今天我们讨论三个问题\uff1a预算、时间表和人员。"],
    ),
    (
        ["this sentence has no punctuation at all and it goes on and on for many more words than any piece may hold"],
        [
            "this sentence has no punctuation at all and it goes on and on for many more words than any piece",
            "may hold",
        ],
    ),
    (["x" * 600], ["x" * 240, "x" * 240, "x" * 120]),
    (
        ["Please leave a message after the tone, ", "and we will call you back as soon as we can", " on Monday."],
        ["Please leave a message after the tone,", "and we will call you back as soon as we can on Monday."],
    ),
]

PARAGRAPH = (
    "Good morning, everyone, and thank you for joining the call. Dr. Smith will present the results at 3.5 p.m. "
    "this sentence runs on without any punctuation for far more words than one piece may hold so it is cut "
    "between words somewhere near the limit. Il a dit « bonjour. » 大家好\uff0c会议现在开始。 "
)

LONG_TEXTS = {
    "prose": PARAGRAPH * 300,
    "no punctuation": "the meeting will start in five minutes " * 2600,
    "no spaces": "abcdefghij" * 10_000,
    "commas": "one two three four five, " * 4000,
    "short sentences": "Yes. " * 20_000,
}
"""About 100 KB each; before, chunking 100 KB took more than 8 minutes."""


@pytest.mark.parametrize(("parts", "pieces"), CUTS)
def test_chunker_cuts_as_before(parts: list[str], pieces: list[str]) -> None:
    chunker = Chunker()
    assert [piece for part in parts for piece in chunker.push(part)] + chunker.flush() == pieces


def test_long_text_is_cut_like_a_short_one() -> None:
    """However much text comes in one push, every copy of a paragraph after the first is cut the same way."""
    first = Chunker().push(PARAGRAPH)
    two = Chunker().push(PARAGRAPH * 2)
    assert two[: len(first)] == first
    again = two[len(first) :]
    assert Chunker().push(LONG_TEXTS["prose"]) == first + again * 299


@pytest.mark.parametrize("kind", list(LONG_TEXTS))
def test_chunking_100_kb_is_quick(kind: str) -> None:
    long_text = LONG_TEXTS[kind]
    chunker = Chunker()
    started = time.process_time()
    pieces = chunker.push(long_text) + chunker.flush()
    seconds = time.process_time() - started
    assert seconds < 1.0, f"{seconds:.2f} s of CPU to chunk {len(long_text)} characters"
    assert "".join("".join(pieces).split()) == "".join(long_text.split()), "text was lost"
    assert max(len(piece) for piece in pieces) <= 240


def health(ch: grpc.Channel) -> float:
    """Seconds a grpc.health.v1 check took; it must answer SERVING."""
    started = time.monotonic()
    response = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    return time.monotonic() - started


def synthesis(voice: str = "espeak-male") -> tts_pb2.StreamingSynthesizeRequest:
    return tts_pb2.StreamingSynthesizeRequest(config=tts_pb2.SynthesisConfig(language_code="en", voice_name=voice))


def text(piece: str) -> tts_pb2.StreamingSynthesizeRequest:
    return tts_pb2.StreamingSynthesizeRequest(text=tts_pb2.TextInput(text=piece, segment_id="s"))


def refused(responses: Iterable[Any], *words: str) -> list[Any]:
    """The responses that came before the call failed with INVALID_ARGUMENT, whose message has every word."""
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for response in responses:
            received.append(response)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    for word in words:
        assert word in str(caught.value.details())
    return received


@pytest.fixture(scope="module")
def small_tts() -> Iterator[str]:
    """A TTS server with small limits, one set by flag and one by environment variable."""
    with running("tts_server", "--max-text-chars", "300", env={"LINGUA_TTS_MAX_STREAM_CHARS": "700"}) as address:
        yield address


def test_tts_refuses_100_kb_of_text(tts_address: str) -> None:
    with channel(tts_address) as ch:
        call = tts_pb2_grpc.TextToSpeechServiceStub(ch).StreamingSynthesize(
            iter([synthesis(), text("word " * 20_000)]), timeout=TIMEOUT
        )
        refused(call, "100000 characters", "20000-character limit per request", "smaller pieces")
        assert health(ch) < PROMPT_SECONDS


def test_tts_refuses_a_stream_over_its_total(small_tts: str) -> None:
    sentence = "The quick brown fox jumps over the lazy dog. " * 6  # 270 characters, under 300
    with channel(small_tts) as ch:
        stub = tts_pb2_grpc.TextToSpeechServiceStub(ch)
        requests = [synthesis(), text(sentence), text(sentence), text(sentence)]
        call = stub.StreamingSynthesize(iter(requests), timeout=TIMEOUT)
        spoken = refused(call, "810 characters", "700-character limit per stream")
        assert any(r.WhichOneof("response") == "audio" for r in spoken), "the text within the limits was not spoken"
        call = stub.StreamingSynthesize(iter([synthesis(), text("x" * 301)]), timeout=TIMEOUT)
        refused(call, "301 characters", "300-character limit per request")
        assert health(ch) < PROMPT_SECONDS


def test_tts_answers_health_checks_while_speaking_long_text(tts_address: str) -> None:
    """15 KB without punctuation took a minute to chunk on the event loop; now health checks answer meanwhile."""
    long_text = "the meeting will start in five minutes " * 385
    sent, done, heard = threading.Event(), threading.Event(), threading.Event()

    def requests() -> Iterator[tts_pb2.StreamingSynthesizeRequest]:
        yield synthesis()
        yield text(long_text)
        sent.set()
        done.wait(TIMEOUT)

    with channel(tts_address) as ch:
        health(ch)
        call = tts_pb2_grpc.TextToSpeechServiceStub(ch).StreamingSynthesize(requests(), timeout=TIMEOUT)

        def listen() -> None:
            with contextlib.suppress(grpc.RpcError):  # cancelled once the checks are done
                for response in call:
                    if response.WhichOneof("response") == "audio":
                        heard.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        try:
            assert sent.wait(30)
            seconds: list[float] = []
            deadline = time.monotonic() + 60
            while (len(seconds) < 10 or not heard.is_set()) and time.monotonic() < deadline:
                seconds.append(health(ch))
                time.sleep(0.1)
        finally:
            done.set()
            call.cancel()
            listener.join(30)
    print(f"{len(seconds)} health checks while speaking {len(long_text)} characters: max {max(seconds):.3f} s")
    assert heard.is_set(), "no audio for the long text"
    assert max(seconds) < PROMPT_SECONDS


def segment(text: str, segment_id: str = "s", is_final: bool = True) -> mt_pb2.StreamingTranslateRequest:
    return mt_pb2.StreamingTranslateRequest(segment=mt_pb2.Segment(segment_id=segment_id, text=text, is_final=is_final))


def translation(source: str, target: str) -> mt_pb2.StreamingTranslateRequest:
    config = mt_pb2.TranslationConfig(source_language_code=source, target_language_codes=[target])
    return mt_pb2.StreamingTranslateRequest(config=config)


def test_mt_refuses_100_kb_of_text(mt_address: str) -> None:
    long_text = "word " * 20_000
    with channel(mt_address) as ch:
        stub = mt_pb2_grpc.TranslatorServiceStub(ch)
        request = mt_pb2.TranslateRequest(source_language_code="en", target_language_code="es", text=long_text)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Translate(request, timeout=TIMEOUT)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "99999 characters" in str(caught.value.details())
        assert "5000-character limit" in str(caught.value.details())
        assert health(ch) < PROMPT_SECONDS
        call = stub.StreamingTranslate(iter([translation("en", "es"), segment(long_text)]), timeout=TIMEOUT)
        refused(call, "segment 's' text of 99999 characters", "5000-character limit")
        assert health(ch) < PROMPT_SECONDS


def test_mt_refuses_a_stream_over_its_total(mt_address: str) -> None:
    """201 growing versions of a segment, each under the 5000-character limit, pass the stream's 1,000,000."""
    version = ("word " * 1000).strip()  # 4999 characters
    requests = [translation("en", "en")] + [segment(version, is_final=False)] * 201
    with channel(mt_address) as ch:
        call = mt_pb2_grpc.TranslatorServiceStub(ch).StreamingTranslate(iter(requests), timeout=TIMEOUT)
        refused(call, "1004799 characters", "1000000-character limit per stream")
        assert health(ch) < PROMPT_SECONDS
