"""Junk in the orchestrator's media path is dropped and counted, and the call goes on.

Real Asterisk, the four servers, the orchestrator and two baresip callers: A speaks English
on 1001 while B listens in Spanish on 1002. The orchestrator reaches Asterisk through
tests/ari_proxy.py. With websocket media the proxy sends the orchestrator junk messages on
each call's real media socket, between Asterisk's own; with RTP media junk datagrams go to
the orchestrator's RTP port of each call (where the proxy saw it ask Asterisk to send).
lingua_media_rejected_total on /metrics must count exactly the junk sent (so nothing Asterisk
sent was rejected), the calls stay up, and A's speech is still transcribed and translated.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clients import sip
from clients.launch import running
from common.ports import free_port
from corpus import prompt_pcm16, transcripts, wer
from tests.ari_proxy import AriProxy
from tests.conftest import wait_for
from tests.test_sip_conference import PROMPTS, Captions, participants


def rtp(first: int = 0x80, payload_type: int = 9, payload: bytes = bytes(160)) -> bytes:
    """An RTP packet: first byte (version, padding, extension, CSRC count), payload type, payload."""
    return struct.pack("!BBHII", first, payload_type, 1, 160, 0x1234) + payload


# (the reason each must be counted under, the junk)
WEBSOCKET_JUNK: list[tuple[str, bytes | str]] = [
    ("length", os.urandom(641)),  # odd: taken in, it would shift every later sample by a byte
    ("length", os.urandom(100)),
    ("length", b""),
    ("too_large", os.urandom(64000)),
    ("not_json", "MEDIA_START connection_id:x format:slin16"),  # the plain-text form this Asterisk is not set to
    ("not_json", "[" * 100_000),  # too deep to parse
    ("unknown_event", "[1, 2]"),
    ("unknown_event", '{"event": 7}'),
    ("unknown_event", '{"event": "MEDIA_SHOUT", "volume": 11}'),
]
RTP_JUNK: list[tuple[str, bytes]] = [
    ("short", b"\x80\x09\x00\x01"),
    ("version", rtp(first=0x40)),
    ("payload_type", rtp(payload_type=0)),
    ("truncated", rtp(first=0x8F, payload=bytes(20))),  # 15 CSRCs promised, 5 there
    ("truncated", rtp(first=0x90, payload=b"\0\0\xff\xff")),  # a header extension of 65535 words
    ("truncated", rtp(first=0xA0, payload=bytes(10) + b"\xff")),  # more padding than packet
    ("too_large", rtp(payload=os.urandom(4000))),
    ("source", rtp(payload=os.urandom(160))),  # well formed, but not from Asterisk's address
]


@pytest.fixture(scope="module", params=["websocket", "rtp"])
def stack(
    request: pytest.FixtureRequest, asterisk: Path, stt_address: str, mt_address: str, tts_address: str
) -> Iterator[tuple[str, AriProxy, str, int]]:
    """(transport, proxy, orchestrator address, metrics port): the orchestrator on Asterisk through the proxy."""
    ari_url = sip.read_env(asterisk / "ari.env")["ARI_URL"]
    metrics = free_port()
    with AriProxy(ari_url.removesuffix("/ari")) as proxy:
        args = ["--stt", stt_address, "--mt", mt_address, "--tts", tts_address, "--media", request.param]
        env = {"ARI_URL": f"http://127.0.0.1:{proxy.port}/ari"}
        with running("orchestrator", *args, "--metrics-port", str(metrics), env=env) as address:
            yield request.param, proxy, address, metrics


def inject(transport: str, proxy: AriProxy) -> Counter[str]:
    """One round of junk into every call's media path; what it must count."""
    if transport == "websocket":
        calls = proxy.inject([message for _, message in WEBSOCKET_JUNK])
        reasons = [reason for reason, _ in WEBSOCKET_JUNK]
    else:
        calls, reasons = len(proxy.external_hosts), [reason for reason, _ in RTP_JUNK]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for target in proxy.external_hosts:
                host, port = target.rsplit(":", 1)
                for _, datagram in RTP_JUNK:
                    sock.sendto(datagram, (host, int(port)))
    return Counter({reason: calls * n for reason, n in Counter(reasons).items()})


def rejected(metrics_port: int, transport: str) -> Counter[str]:
    """lingua_media_rejected_total by reason for the transport, scraped from /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "lingua_media_rejected_total" and sample.labels["transport"] == transport:
                counts[sample.labels["reason"]] += int(sample.value)
    return counts


def test_junk_media_is_dropped_and_counted_and_the_call_goes_on(
    stack: tuple[str, AriProxy, str, int], tmp_path: Path
) -> None:
    transport, proxy, address, metrics = stack
    speech = b"".join(prompt_pcm16(n) + bytes(2 * 32000) for n in PROMPTS)
    said = tmp_path / "a.wav"
    sip.write_wav(said, np.frombuffer(speech, dtype="<i2"), 16000)
    captions = Captions(address)
    listener = sip.call("1002", duration_s=len(speech) / 32000 + 12, caller="beto")
    try:
        assert wait_for(lambda: len(participants(address)) == 1, 30), listener.log[-2000:]
        with sip.call("1001", play_wav=said, duration_s=len(speech) / 32000 + 2, caller="ana") as speaker:
            assert wait_for(lambda: len(participants(address)) == 2, 30), speaker.log[-2000:]
            sent: Counter[str] = Counter()
            end = time.monotonic() + len(speech) / 32000
            while time.monotonic() < end:  # junk all through A's speech, between Asterisk's own frames
                sent += inject(transport, proxy)
                time.sleep(0.5)
            assert sent and min(sent.values()) >= 2, sent
            assert wait_for(lambda: rejected(metrics, transport) == sent, 10), (rejected(metrics, transport), sent)
            assert len(participants(address)) == 2, "a call ended"
            assert not speaker.ended() and not listener.ended()
            speaker.wait(60)
        listener.wait(60)
    finally:
        listener.close()
        captions.close()

    english, spanish = captions.finals("en"), captions.finals("es")
    print(f"{transport}: dropped {dict(sent)}\nA said: {english}\nB was told: {spanish}")
    reference = " ".join(transcripts("en")[n] for n in PROMPTS)
    assert wer(reference, " ".join(english)) < 0.35, "A's speech was damaged"
    assert len(spanish) >= len(PROMPTS), "A's speech was not translated"
