"""TranslatorService end to end: a real mt_server process (Apertium through apertium-apy, and Bergamot)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from mt_server.engines.registry import load_quality
from tests.conftest import channel

# Three sentences per pair, each with words its translation must contain (any one of a tuple).
SENTENCES: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = {
    ("en", "es"): [
        ("Hello, how are you?", ("Hola",)),
        ("Please leave a message after the tone.", ("mensaje", "tono")),
        ("The conference will begin shortly.", ("conferencia",)),
    ],
    ("es", "en"): [
        ("Hola, ¿cómo estás?", ("how are you",)),
        ("La reunión empieza a las tres.", ("meeting", "three")),
        ("Por favor, deje su mensaje después de la señal.", ("message", "after")),
    ],
    ("en", "pt"): [
        ("Hello, how are you?", ("Olá",)),
        ("Please leave a message after the tone.", ("mensagem",)),
        ("The conference will begin shortly.", ("conferência",)),
    ],
    ("en", "fr"): [
        ("Hello, how are you?", ("comment",)),
        ("The meeting starts now.", ("réunion", "maintenant")),
        ("Thank you very much.", ("Merci",)),
    ],
    ("fr", "en"): [
        ("La réunion commence maintenant.", ("meeting", "now")),
        ("Merci beaucoup.", ("Thank",)),
        ("Le client est dans la maison.", ("client", "house")),
    ],
    ("en", "ca"): [
        ("Good morning.", ("Bon dia",)),
        ("The conference will begin shortly.", ("conferència",)),
        ("Thank you for calling.", ("Gràcies",)),
    ],
    ("es", "it"): [
        ("La reunión empieza ahora.", ("riunione", "adesso")),
        ("Buenos días.", ("Buongiorno",)),
        ("El cliente está en la casa.", ("cliente", "casa")),
    ],
}

# The same request in each source language, with "Green Bridge" as a name to keep.
CALL_GREEN_BRIDGE = {
    "en": "Please call Green Bridge now.",
    "es": "Por favor llame a Green Bridge ahora.",
    "fr": "Appelez Green Bridge maintenant.",
    "pt": "Por favor ligue para Green Bridge agora.",
    "ca": "Si us plau truqueu a Green Bridge ara.",
    "it": "Per favore chiama Green Bridge adesso.",
}


@pytest.fixture(scope="module")
def stub(mt_address: str) -> Iterator[mt_pb2_grpc.TranslatorServiceStub]:
    with channel(mt_address) as ch:
        yield mt_pb2_grpc.TranslatorServiceStub(ch)


def translate(
    stub: mt_pb2_grpc.TranslatorServiceStub, source: str, target: str, text: str, **kw: Any
) -> mt_pb2.TranslateResponse:
    return stub.Translate(
        mt_pb2.TranslateRequest(source_language_code=source, target_language_code=target, text=text, **kw), timeout=30
    )


def stream(
    stub: mt_pb2_grpc.TranslatorServiceStub, *requests: mt_pb2.StreamingTranslateRequest
) -> list[mt_pb2.StreamingTranslateResponse]:
    return list(stub.StreamingTranslate(iter(requests), timeout=60))


def config(source: str, *targets: str, **kw: Any) -> mt_pb2.StreamingTranslateRequest:
    return mt_pb2.StreamingTranslateRequest(
        config=mt_pb2.TranslationConfig(source_language_code=source, target_language_codes=targets, **kw)
    )


def segment(segment_id: str, text: str, is_final: bool = True) -> mt_pb2.StreamingTranslateRequest:
    return mt_pb2.StreamingTranslateRequest(segment=mt_pb2.Segment(segment_id=segment_id, text=text, is_final=is_final))


def assert_invalid(call: Callable[[], object]) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    return str(err.value.details())


@pytest.mark.parametrize("pair", list(SENTENCES), ids=lambda pair: "-".join(pair))
def test_translate_pair(stub: mt_pb2_grpc.TranslatorServiceStub, pair: tuple[str, str]) -> None:
    for text, expected in SENTENCES[pair]:
        began = time.perf_counter()
        response = translate(stub, *pair, text)
        took = (time.perf_counter() - began) * 1000
        print(f"{pair[0]}->{pair[1]} {text!r} -> {response.text!r} via {list(response.route)} ({took:.0f} ms)")
        assert any(word.casefold() in response.text.casefold() for word in expected), (text, response.text)
        assert response.text != text


def test_routes_follow_the_quality_table(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    measured = load_quality()
    assert measured, "mt_server/routes.json is missing: run python -m bench.mt_routes --write-table"
    for (source, target), best in measured.items():
        assert tuple(translate(stub, source, target, "Good night.").route) == best.route, (source, target)
    assert list(translate(stub, "en-US", "pt-BR", "Good night.").route) == ["bergamot:en-pt"]
    same = translate(stub, "en", "en-GB", "Good night.")
    assert same.text == "Good night." and not same.route


def test_list_language_pairs(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    listed = stub.ListLanguagePairs(mt_pb2.ListLanguagePairsRequest()).pairs
    pairs = {(p.source_language_code, p.target_language_code): list(p.route) for p in listed}
    scores = {(p.source_language_code, p.target_language_code): p.chrf for p in listed}
    print(f"{len(pairs)} pairs: " + ", ".join(f"{s}-{t}={'+'.join(r)}" for (s, t), r in pairs.items()))
    for key, best in load_quality().items():
        assert tuple(pairs[key]) == best.route and scores[key] == pytest.approx(best.chrf, abs=0.01)
    assert scores["en", "es"] > 50, "en->es through Portuguese scores above 50 chrF on held-out pairs"
    assert pairs["en", "pt"] == ["bergamot:en-pt"]
    assert pairs["pt", "ca"] == ["apertium:por-cat"] and scores["pt", "ca"] == 0.0, "unmeasured: the rule, no score"
    assert all(src != tgt for src, tgt in pairs)
    only_fr = stub.ListLanguagePairs(mt_pb2.ListLanguagePairsRequest(source_language_code="fr")).pairs
    assert only_fr and {p.source_language_code for p in only_fr} == {"fr"}
    assert_invalid(lambda: stub.ListLanguagePairs(mt_pb2.ListLanguagePairsRequest(source_language_code="xx")))


def test_unknown_words_unmarked(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    for target in ("es", "fr", "ca", "it"):
        text = translate(stub, "en", target, "Zorblax flurbed the grintle near the riverbank.").text
        print(f"en->{target}: {text!r}")
        assert "Zorblax" in text
        assert not any(mark in text for mark in "*#@"), text
    assert "*" not in translate(stub, "fr", "en", "Le zorblax est ici.").text


def test_do_not_translate_survives_every_route(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    plain = translate(stub, "en", "fr", "We meet at the Green Bridge with Apple.").text
    assert "Green Bridge" not in plain  # Apertium translates it when not protected
    kept = translate(stub, "en", "fr", "We meet at the Green Bridge with Apple.", do_not_translate=["green bridge"])
    assert "Green Bridge" in kept.text, kept.text
    pairs = stub.ListLanguagePairs(mt_pb2.ListLanguagePairsRequest()).pairs
    for pair in pairs:
        source, target = pair.source_language_code, pair.target_language_code
        response = translate(stub, source, target, CALL_GREEN_BRIDGE[source], do_not_translate=["Green Bridge"])
        assert "Green Bridge" in response.text, (source, target, list(response.route), response.text)
        assert "ZXQ" not in response.text


def test_glossary(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    text = "The meeting starts now."
    assert "asamblea" not in translate(stub, "en", "es", text).text
    glossary = [
        mt_pb2.GlossaryEntry(source_text="meeting", target_text="asamblea"),
        mt_pb2.GlossaryEntry(source_text="Meeting", target_text="assembleia", target_language_code="pt-BR"),
    ]
    spanish = translate(stub, "en", "es", text, glossary=glossary).text
    portuguese = translate(stub, "en", "pt", text, glossary=glossary).text
    french = translate(stub, "en", "fr", text, glossary=glossary).text
    print(f"glossary: es {spanish!r}, pt {portuguese!r}, fr {french!r}")
    assert "asamblea" in spanish
    assert "assembleia" in portuguese and "asamblea" not in portuguese
    assert "asamblea" in french


def test_streaming_two_targets(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    responses = stream(
        stub,
        config("en", "es", "pt"),
        segment("s1", "Hello, how are you?"),
        segment("s2", "The conference will begin shortly."),
    )
    got = {(r.segment_id, r.target_language_code): r for r in responses}
    for r in responses:
        print(f"{r.segment_id} {r.target_language_code} final={r.is_final}: {r.text!r}")
    assert len(responses) == 4 and set(got) == {("s1", "es"), ("s1", "pt"), ("s2", "es"), ("s2", "pt")}
    assert all(r.is_final for r in responses)
    assert "Hola" in got["s1", "es"].text and "Olá" in got["s1", "pt"].text
    assert "conferencia" in got["s2", "es"].text and "conferência" in got["s2", "pt"].text


def test_streaming_partials_keep_finals(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    sentence = "please leave your name and number after the tone and we will call you back"
    words = sentence.split(" ")
    requests = [config("en", "es", "fr", do_not_translate=["Anna"])]
    for n in range(1, len(words) + 1):
        requests.append(segment("a", " ".join(words[:n]), is_final=False))
        requests.append(segment("b", f"Anna {' '.join(words[:n])}", is_final=False))
    requests += [segment("a", sentence), segment("b", "Anna says thank you.")]
    requests += [segment("c", "Good morning.", is_final=False), segment("c", "Good morning, everyone.")]
    responses = stream(stub, *requests)
    print(f"{len(responses)} responses for {len(requests) - 1} segments x 2 targets")
    partials_sent = 2 * (2 * len(words) + 1)
    assert sum(not r.is_final for r in responses) <= partials_sent
    for segment_id, final_text in [
        ("a", " ".join(words)),
        ("b", "Anna says thank you."),
        ("c", "Good morning, everyone."),
    ]:
        for target in ("es", "fr"):
            lane = [r for r in responses if (r.segment_id, r.target_language_code) == (segment_id, target)]
            finals = [r for r in lane if r.is_final]
            assert len(finals) == 1 and lane[-1].is_final, [(r.text, r.is_final) for r in lane]
            expected = translate(stub, "en", target, final_text, do_not_translate=["Anna"]).text
            assert finals[0].text == expected
            if segment_id == "b":
                assert all("Anna" in r.text for r in lane)


def test_streaming_validation(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    details = [
        assert_invalid(lambda: stream(stub, segment("s", "Hello."))),
        assert_invalid(lambda: stream(stub, config("en"), segment("s", "Hello."))),
        assert_invalid(lambda: stream(stub, config("en", "xx"), segment("s", "Hello."))),
        assert_invalid(lambda: stream(stub, config("de", "es"), segment("s", "Hello."))),
        assert_invalid(lambda: stream(stub, config("en", "es"), segment("s", "   "))),
        assert_invalid(lambda: stream(stub, config("en", "es"), segment("", "Hello."))),
        assert_invalid(lambda: stream(stub, config("en", "es"), config("en", "es"))),
        assert_invalid(lambda: stream(stub, config("english", "es"), segment("s", "Hello."))),
    ]
    print("\n".join(details))
    assert "config" in details[0]
    assert "target" in details[1]
    assert "supported" in details[2] and "es" in details[2]
    assert "segment_id" in details[5]


def test_translate_validation(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    assert_invalid(lambda: translate(stub, "en", "es", ""))
    assert_invalid(lambda: translate(stub, "en", "", "Hello."))
    assert_invalid(lambda: translate(stub, "en", "ja", "Hello."))
    assert_invalid(lambda: translate(stub, "", "es", "Hello."))
    assert_invalid(lambda: translate(stub, "en", "es", "x" * 100_000))
    assert_invalid(lambda: translate(stub, "en", "es", "Hello.", glossary=[mt_pb2.GlossaryEntry(source_text="Hello")]))
    assert_invalid(lambda: translate(stub, "en", "es", "Hello.", do_not_translate=[" "]))


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of each child of pid, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


def _apy_pid() -> int:
    (server,) = [pid for pid, cmd in _children(os.getpid()) if "-m mt_server" in cmd]
    (apy,) = [pid for pid, cmd in _children(server) if "apy_launcher" in cmd]
    return apy


def test_apertium_restarts_after_kill(stub: mt_pb2_grpc.TranslatorServiceStub) -> None:
    old = _apy_pid()
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 60
    unavailable = 0
    while True:
        try:
            # A sentence no other test sends, so the cache cannot answer it.
            response = translate(stub, "en", "es", f"The room number is {unavailable} and the door is open.")
            break
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE, err.details()
            unavailable += 1
            assert time.monotonic() < deadline, "apertium-apy did not come back"
            time.sleep(0.5)
    print(f"after kill: {unavailable} UNAVAILABLE answers, then {response.text!r}")
    assert "puerta" in response.text
    assert _apy_pid() != old
