"""The DeepL engine: a real mt_server process and the real `deepl` client against a local DeepL-protocol server."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from clients.launch import running
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from mt_server.engines.registry import load_quality
from tests.conftest import channel
from tests.deepl_server import FakeDeepL, deepl_server
from tests.test_mt import config, segment, stream, translate

KEY = "lingua-test-key-5f3a9c"


@pytest.fixture(scope="module")
def deepl() -> Iterator[FakeDeepL]:
    with deepl_server(KEY) as server:
        yield server


@pytest.fixture(scope="module")
def stub(deepl: FakeDeepL) -> Iterator[mt_pb2_grpc.TranslatorServiceStub]:
    env = {"DEEPL_AUTH_KEY": KEY, "LINGUA_MT_LOG_LEVEL": "DEBUG"}
    with (
        running("mt_server", "--engine", "deepl", "--deepl-server-url", deepl.url, env=env) as address,
        channel(address) as ch,
    ):
        yield mt_pb2_grpc.TranslatorServiceStub(ch)


def routes(stub: mt_pb2_grpc.TranslatorServiceStub, source: str) -> dict[str, list[str]]:
    pairs = stub.ListLanguagePairs(mt_pb2.ListLanguagePairsRequest(source_language_code=source), timeout=30).pairs
    return {p.target_language_code: list(p.route) for p in pairs}


def test_deepl_first_and_embedded_for_the_rest(stub: mt_pb2_grpc.TranslatorServiceStub, deepl: FakeDeepL) -> None:
    assert deepl.sent("/v2/translate") == [], "starting up translates nothing (DeepL bills each character)"
    en = routes(stub, "en")
    assert en["de"] == ["deepl:EN-DE"]
    assert en["fr"] == ["deepl:EN-FR"]
    assert en["ca"] == ["apertium:eng-cat"]  # DeepL (here) has no Catalan
    assert routes(stub, "fr")["en"] == ["deepl:FR-EN-US"]
    response = translate(stub, "en", "de", "Hello, how are you?")
    assert list(response.route) == ["deepl:EN-DE"]
    assert response.text.startswith("hallo, wie geht")


def test_formality_where_the_target_has_it(stub: mt_pb2_grpc.TranslatorServiceStub, deepl: FakeDeepL) -> None:
    informal = translate(stub, "en", "de", "How are you today?", formality=mt_pb2.FORMALITY_LESS).text
    formal = translate(stub, "en", "de", "How are you today?", formality=mt_pb2.FORMALITY_MORE).text
    assert "dir" in informal.split() and "Ihnen" in formal.split()
    sent = [p for p in deepl.sent("/v2/translate") if p["text"] == ["How are you today?"]]
    assert [p.get("formality") for p in sent] == ["prefer_less", "prefer_more"]
    translate(stub, "de", "en", "Wie geht es dir heute?", formality=mt_pb2.FORMALITY_LESS)
    assert "formality" not in deepl.sent("/v2/translate")[-1]  # EN has no formality
    with pytest.raises(grpc.RpcError) as info:
        translate(stub, "en", "de", "Hello.", formality=7)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "formality" in (info.value.details() or "")


def test_glossary_becomes_a_deepl_glossary(stub: mt_pb2_grpc.TranslatorServiceStub, deepl: FakeDeepL) -> None:
    glossary = [mt_pb2.GlossaryEntry(source_text="the meeting", target_text="das Meeting", target_language_code="de")]
    before = len(deepl.glossaries)
    text = translate(stub, "en", "de", "Hello, the meeting starts.", glossary=glossary).text
    assert "das Meeting" in text
    assert len(deepl.glossaries) == before + 1
    (created,) = [g for g in deepl.glossaries.values() if g["entry_count"] == 1 and g["target_lang"] == "de"]
    assert created["name"].startswith("lingua-")
    assert deepl.sent("/v2/translate")[-1]["glossary_id"] == created["glossary_id"]

    translate(stub, "en", "de", "The meeting ends.", glossary=glossary)
    assert len(deepl.glossaries) == before + 1, "the same entries reuse their glossary"


def test_glossary_without_a_deepl_glossary_pair(stub: mt_pb2_grpc.TranslatorServiceStub, deepl: FakeDeepL) -> None:
    glossary = [mt_pb2.GlossaryEntry(source_text="meeting", target_text="visioconférence")]
    before = len(deepl.glossaries)
    text = translate(stub, "en", "fr", "Hello, the meeting starts.", glossary=glossary).text
    assert "visioconférence" in text
    assert len(deepl.glossaries) == before
    sent = deepl.sent("/v2/translate")[-1]
    assert "glossary_id" not in sent and "meeting" not in sent["text"][0]


def test_recent_segments_are_cached(stub: mt_pb2_grpc.TranslatorServiceStub, deepl: FakeDeepL) -> None:
    sentence = "Hello, the meeting is cached."
    first = translate(stub, "en", "es", sentence).text
    count = len(deepl.sent("/v2/translate"))
    assert translate(stub, "en", "es", sentence).text == first
    assert len(deepl.sent("/v2/translate")) == count
    translate(stub, "en", "es", sentence, formality=mt_pb2.FORMALITY_LESS)
    assert len(deepl.sent("/v2/translate")) == count + 1, "another formality is another translation"


def test_streaming_over_deepl_and_apertium(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    replies = stream(
        stub,
        config("en", "de", "ca", formality=mt_pb2.FORMALITY_LESS),
        segment("s1", "Hello, how are", is_final=False),
        segment("s1", "Hello, how are you?"),
    )
    finals = {r.target_language_code: r.text for r in replies if r.is_final}
    assert finals["de"] == "hallo, wie geht dir?"
    assert "Hola" in finals["ca"]


def test_key_is_never_logged(stub: mt_pb2_grpc.TranslatorServiceStub, capfd: pytest.CaptureFixture[str]) -> None:
    translate(stub, "en", "de", "Hello, the key stays secret.")
    out, err = capfd.readouterr()
    assert "[mt_server]" in out + err, "the server's log is captured here"
    assert KEY not in out + err


@pytest.mark.parametrize(("key", "says"), [("", "DEEPL_AUTH_KEY is not set"), ("wrong-key", "Wrong auth key")])
def test_without_a_working_key_the_embedded_engines_serve(
    deepl: FakeDeepL, key: str, says: str, capfd: pytest.CaptureFixture[str]
) -> None:
    env = {"DEEPL_AUTH_KEY": key}
    with (
        running("mt_server", "--engine", "deepl", "--deepl-server-url", deepl.url, env=env) as address,
        channel(address) as ch,
    ):
        stub = mt_pb2_grpc.TranslatorServiceStub(ch)
        assert tuple(routes(stub, "en")["es"]) == load_quality()["en", "es"].route, "measured route"
        assert translate(stub, "en", "es", "Hello, how are you?").text.startswith("Hola")
    out, err = capfd.readouterr()
    assert says in out + err and "DeepL is off" in out + err
    assert "wrong-key" not in out + err


def test_deepl_failing_is_unavailable() -> None:
    with deepl_server(KEY) as doomed:
        env = {"DEEPL_AUTH_KEY": KEY}
        with (
            running("mt_server", "--engine", "deepl", "--deepl-server-url", doomed.url, env=env) as address,
            channel(address) as ch,
        ):
            stub = mt_pb2_grpc.TranslatorServiceStub(ch)
            assert translate(stub, "en", "de", "Hello.").text == "hallo."
            doomed.key = "rotated"
            with pytest.raises(grpc.RpcError) as info:
                translate(stub, "en", "de", "Hello again.")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "DeepL failed on en->de" in (info.value.details() or "")
