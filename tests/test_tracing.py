"""One utterance is one trace across every server, as an OTLP collector (Jaeger's) receives it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from bench.traces import render, utterances
from clients.conference import Participant
from clients.launch import running
from clients.otlp import Receiver, Span
from corpus import prompt_pcm16

MT_SPAN = "lingua.mt.v1.TranslatorService/Translate"
TTS_SPAN = "lingua.tts.v1.TextToSpeechService/StreamingSynthesize"


@pytest.fixture(scope="module")
def traced() -> Iterator[tuple[Receiver, str]]:
    """The four servers and the orchestrator, each exporting its spans to one OTLP receiver.

    The STT server waits for its full endpoint (no Smart Turn), so its speculative final
    comes first and the orchestrator translates it ahead of the final.
    """
    with Receiver() as receiver, ExitStack() as stack:
        env = receiver.env()
        stt = stack.enter_context(running("stt_server", "--turn-endpoint-ms", "0", env=env))
        mt = stack.enter_context(running("mt_server", env=env))
        tts = stack.enter_context(running("tts_server", env=env))
        args = ["--no-ari", "--stt", stt, "--mt", mt, "--tts", tts, "--metrics-port", "0"]
        orchestrator = stack.enter_context(running("orchestrator", *args, env=env))
        yield receiver, orchestrator


def test_one_utterance_is_one_trace_across_the_servers(traced: tuple[Receiver, str]) -> None:
    receiver, orchestrator = traced
    listener = Participant(orchestrator, "Ana", "es")
    speaker = Participant(orchestrator, "Bob", "en")
    try:
        time.sleep(0.5)
        speaker.say(prompt_pcm16("vm-nobodyavail") + bytes(32000))
        deadline = time.monotonic() + 60
        done: list = []
        while time.monotonic() < deadline and not done:
            time.sleep(0.5)
            done = [u for u in utterances(receiver.spans()) if u.heard and {TTS_SPAN, "playback"} <= names(u.spans)]
    finally:
        speaker.leave()
        listener.leave()
    assert done, f"no complete utterance trace; got {sorted({s.name for s in receiver.spans()})}"
    (utterance,) = done
    print(render(utterance))
    spans = {s.name: s for s in utterance.spans}
    root = spans["utterance"]
    assert root.parent_id == "" and root.service == "lingua-orchestrator"
    assert root.attributes["lingua.speaker_name"] == "Bob" and root.attributes["lingua.language"] == "en"
    for child in ("stt", "mt", "tts", "playback"):
        assert spans[child].parent_id == root.span_id, child
    assert spans[MT_SPAN].parent_id == spans["mt"].span_id and spans[MT_SPAN].service == "lingua-mt"
    assert spans[TTS_SPAN].parent_id == spans["tts"].span_id and spans[TTS_SPAN].service == "lingua-tts"
    assert spans[MT_SPAN].attributes["lingua.route"] and spans[MT_SPAN].attributes["lingua.target_language"] == "es"
    assert spans[TTS_SPAN].attributes["lingua.voice"] and spans[TTS_SPAN].attributes["lingua.engine"]
    assert spans["mt"].attributes["lingua.text_length"] > 0 and spans["tts"].attributes["lingua.text_length"] > 0
    (heard,) = utterance.heard
    assert heard.language == "es" and 0 < heard.first_ms < heard.last_ms
    mt = [s for s in utterance.spans if s.name == "mt"]
    # Whether the STT's speculative final comes before the endpoint depends on how busy the machine is.
    assert all(s.start_ns < spans["stt"].end_ns for s in mt if s.attributes["lingua.speculative"]), (
        "a speculative final is translated before the final arrives"
    )
    retranslated = [s for s in mt if s.attributes["lingua.final"] and not s.attributes["lingua.speculative"]]
    assert [s.attributes["lingua.speculative"] for s in utterance.spans if s.name == "tts"] == [not retranslated], (
        "a confirmed speculation plays as translated; one the final contradicts is translated again and that plays"
    )
    assert abs(spans["stt"].start_ns - root.start_ns) < 1e6, "stt starts with the utterance, at speech start"
    assert root.start_ns < min(s.start_ns for s in mt) < spans["playback"].start_ns


def names(spans: list[Span]) -> set[str]:
    return {s.name for s in spans}
