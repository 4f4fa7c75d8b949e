"""Real Asterisk (asterisk/install + asterisk/start): ARI, CLI, modules, and real SIP
calls into the Stasis app, with the caller's audio carried over an ExternalMedia
WebSocket both ways."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.sync.client import ClientConnection, connect

from clients import sip
from clients.launch import asterisk_script
from common.paths import state_dir
from corpus import prompt_pcm16

REPO = Path(__file__).resolve().parent.parent
ASTERISK = REPO / "asterisk"
FRAME = 640  # 20 ms of slin16
LANGUAGES = {"1001": "en", "1002": "es", "1003": "fr", "1004": "pt", "1005": "it", "1006": "de", "1007": "ca"}


@dataclass(frozen=True)
class Ari:
    """ARI endpoint and credentials, as asterisk/install wrote them to ari.env."""

    url: str
    user: str
    password: str
    app: str

    def auth(self, password: str | None = None) -> str:
        token = base64.b64encode(f"{self.user}:{password or self.password}".encode()).decode()
        return f"Basic {token}"

    def request(self, method: str, path: str, password: str | None = None, **params: str) -> tuple[int, Any]:
        """One REST call; (HTTP status, decoded JSON body or None)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        req = urllib.request.Request(f"{self.url}{path}{query}", method=method)
        req.add_header("Authorization", self.auth(password))
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = resp.read()
                return resp.status, json.loads(body) if body else None
        except urllib.error.HTTPError as err:
            return err.code, None

    def ok(self, method: str, path: str, **params: str) -> Any:
        """A REST call that must succeed."""
        status, body = self.request(method, path, **params)
        assert 200 <= status < 300, f"{method} {path} {params} -> {status}"
        return body

    @property
    def http(self) -> str:
        """The Asterisk HTTP server's ws:// base (media websockets live at /media/<id>)."""
        return "ws" + self.url.removesuffix("/ari").removeprefix("http")

    def events(self) -> ClientConnection:
        """The app's events websocket (only its own channels: subscribeAll=false)."""
        query = urllib.parse.urlencode({"app": self.app, "subscribeAll": "false"})
        headers = {"Authorization": self.auth()}
        return connect(f"{self.http}/ari/events?{query}", additional_headers=headers, max_queue=None)


@pytest.fixture(scope="session")
def ari(asterisk: Path) -> Ari:
    """ARI of the session's Asterisk, with the credentials asterisk/install generated."""
    env = sip.read_env(asterisk / "ari.env")
    return Ari(env["ARI_URL"], env["ARI_USER"], env["ARI_PASSWORD"], env["ARI_APP"])


def cli(command: str) -> str:
    return asterisk_script("cli", "-x", command, timeout=30)


def next_event(events: ClientConnection, kind: str, match: Callable[[dict], bool] = lambda e: True) -> dict:
    """The next event of this type that matches, skipping others."""
    deadline = time.monotonic() + 30
    while (left := deadline - time.monotonic()) > 0:
        event: dict = json.loads(events.recv(timeout=left))
        if event["type"] == kind and match(event):
            return event
    raise TimeoutError(f"no {kind} event")


@contextmanager
def open_media(ari: Ari, events: ClientConnection, channel_id: str) -> Iterator[tuple[ClientConnection, dict]]:
    """Answer the caller, bridge it with a new ExternalMedia WebSocket channel, connect to its media.

    Yields the media websocket and its MEDIA_START event; afterwards hangs up the
    media channel and removes the bridge.
    """
    ari.ok("POST", f"/channels/{channel_id}/answer")
    media_channel = ari.ok(
        "POST",
        "/channels/externalMedia",
        app=ari.app,
        external_host="INCOMING",
        transport="websocket",
        encapsulation="none",
        connection_type="server",
        format="slin16",
    )
    connection_id = media_channel["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"]
    bridge = ari.ok("POST", "/bridges", type="mixing")
    try:
        with connect(f"{ari.http}/media/{connection_id}", max_queue=None) as media:
            start = json.loads(media.recv(timeout=10))
            # The media channel enters the app only once its websocket is connected.
            next_event(events, "StasisStart", lambda e: e["channel"]["id"] == media_channel["id"])
            ari.ok("POST", f"/bridges/{bridge['id']}/addChannel", channel=f"{channel_id},{media_channel['id']}")
            try:
                yield media, start
            finally:
                ari.request("DELETE", f"/channels/{media_channel['id']}")
    finally:
        ari.request("DELETE", f"/bridges/{bridge['id']}")


def receive_frames(media: ClientConnection, count: int, notices: list[dict] | None = None) -> list[bytes]:
    """The next `count` binary media frames; JSON control events in between go to notices."""
    frames: list[bytes] = []
    while len(frames) < count:
        message = media.recv(timeout=10)
        if isinstance(message, bytes):
            frames.append(message)
        elif notices is not None:
            notices.append(json.loads(message))
    return frames


def peak(pcm: bytes) -> int:
    return int(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)).max(initial=0))


def tone(seconds: float, hz: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def prompt_wav(path: Path, lead_s: float = 1.0) -> Path:
    """An English prompt after lead_s of silence, as a 16 kHz WAV."""
    samples = np.frombuffer(prompt_pcm16("conf-onlyperson"), dtype="<i2")
    sip.write_wav(path, np.concatenate([np.zeros(int(lead_s * 16000), dtype=np.int16), samples]), 16000)
    return path


def test_ari_answers_with_generated_credentials_only(ari: Ari) -> None:
    status, info = ari.request("GET", "/asterisk/info")
    assert status == 200
    assert info["system"]["version"] in cli("core show version")
    assert re.fullmatch(r"[0-9a-f]{32}", ari.password)
    assert ari.request("GET", "/asterisk/info", password="asterisk")[0] == 401
    assert ari.request("GET", "/asterisk/info", password=ari.password[:-1])[0] == 401


def test_cli_reports_version(ari: Ari) -> None:
    assert re.match(r"Asterisk \d+\.\d+\.\d+", cli("core show version"))


@pytest.mark.parametrize(
    "module",
    ["chan_websocket", "res_websocket_client", "res_ari", "res_ari_channels", "app_stasis", "chan_pjsip", "codec_g722"],
)
def test_module_running(ari: Ari, module: str) -> None:
    listing = cli(f"module show like {module}")
    assert re.search(rf"^{module}\.so\s.*\sRunning\s", listing, re.MULTILINE), listing


def test_dialplan_maps_numbers_to_languages(ari: Ari) -> None:
    for number, language in LANGUAGES.items():
        assert f"Set(LINGUA_LANGUAGE={language})" in cli(f"dialplan show {number}@lingua-in")
    assert "Stasis(lingua," in cli("dialplan show s@lingua-stasis")


@pytest.mark.parametrize(
    ("number", "headers", "args"),
    [
        ("ja", {}, ["ja", "5551234", ""]),
        ("4242*1002", {}, ["es", "5551234", "4242"]),
        ("conf-pt-BR", {"X-Voice-Profile": "a,b;c"}, ["pt-BR", "abc", ""]),
        ("1007", {"X-Voice-Profile": "prof_1"}, ["ca", "prof_1", ""]),
    ],
)
def test_number_and_profile_become_stasis_args(ari: Ari, number: str, headers: dict, args: list[str]) -> None:
    with ari.events() as events, sip.call(number, headers=headers, caller="5551234", duration_s=1):
        start = next_event(events, "StasisStart")
        assert start["args"] == args
        ari.ok("DELETE", f"/channels/{start['channel']['id']}")


def test_softphone_account_must_authenticate(ari: Ari) -> None:
    password = sip.read_env(state_dir() / "asterisk" / "sip.env")["SIP_PASSWORD_PHONE1"]
    with ari.events() as events, sip.call("1001", caller="phone1", password=password, duration_s=1):
        start = next_event(events, "StasisStart")
        assert start["args"] == ["en", "phone1", ""]
        assert start["channel"]["name"].startswith("PJSIP/phone1-")
        ari.ok("DELETE", f"/channels/{start['channel']['id']}")
    with sip.call("1001", caller="phone1", password=password[::-1], duration_s=1) as intruder:
        intruder.wait(30)
        assert not intruder.established
        assert "401" in intruder.log or "403" in intruder.log, intruder.log


def test_unknown_number_is_refused(ari: Ari, tmp_path: Path) -> None:
    with sip.call("9999", duration_s=2) as caller:
        caller.wait(30)
        assert not caller.established
        assert "404" in caller.log


def test_baresip_call_reaches_app_and_media_flows_both_ways(ari: Ari, tmp_path: Path) -> None:
    recording = tmp_path / "heard.wav"
    with ari.events() as events:
        caller = sip.call(
            "1002", play_wav=prompt_wav(tmp_path / "say.wav"), record_wav=recording, caller="ana", duration_s=30
        )
        with caller:
            start = next_event(events, "StasisStart")
            assert start["args"] == ["es", "ana", ""]
            channel_id = start["channel"]["id"]
            with open_media(ari, events, channel_id) as (media, media_start):
                assert media_start["event"] == "MEDIA_START"
                assert media_start["format"] == "slin16"
                assert media_start["optimal_frame_size"] == FRAME
                media.send(tone(1.0, 440))
                media.send(json.dumps({"command": "MARK_MEDIA", "correlation_id": "tone"}))
                notices: list[dict] = []
                frames = receive_frames(media, 250, notices)
                assert {
                    "event": "MEDIA_MARK_PROCESSED",
                    "channel_id": media_start["channel_id"],
                    "correlation_id": "tone",
                } in notices
                assert {len(f) for f in frames} == {FRAME}
                assert max(peak(f) for f in frames) > 5000, "the caller's prompt did not arrive"
                assert sum(peak(f) > 1000 for f in frames) > 50, "under a second of the prompt arrived"
                ari.ok("DELETE", f"/channels/{channel_id}")
            caller.wait(30)
            assert caller.established
    samples, rate = sip.read_wav(recording)
    assert len(samples) > rate // 2, "the caller heard (almost) nothing"
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    assert abs(np.argmax(spectrum) * rate / len(samples) - 440) < 10
    assert np.abs(samples.astype(np.int32)).max() > 4000


def test_sipp_call_names_profile_in_header(ari: Ari, tmp_path: Path) -> None:
    with ari.events() as events:
        caller = sip.call(
            "conf-ja",
            play_wav=prompt_wav(tmp_path / "say.wav", lead_s=0.5),
            headers={"X-Voice-Profile": "prof-7.b"},
            caller="5551234",
            duration_s=3,
        )
        with caller:
            start = next_event(events, "StasisStart")
            assert start["args"] == ["ja", "prof-7.b", ""]
            assert start["channel"]["caller"]["number"] == "5551234"
            with open_media(ari, events, start["channel"]["id"]) as (media, _):
                frames = receive_frames(media, 100)
                assert max(peak(f) for f in frames) > 5000, "the caller's pcap audio did not arrive"
                assert caller.wait(30) == 0, caller.log
                next_event(events, "StasisEnd", lambda e: e["channel"]["id"] == start["channel"]["id"])
