"""The live web console in a real headless chromium: participants, captions forming and kept in
both languages, the latency chart's figures, and the token check."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import corpus
from clients.conference import Participant
from clients.console_shot import Browser, console_orchestrator, wait_until
from common.security import Holder, load_tokens
from lingua.conference.v1 import conference_pb2
from orchestrator.conference import Conference
from orchestrator.console import app, holder_of
from orchestrator.rooms import Rooms
from orchestrator.stages import Stage

PAGE_PEOPLE = "[...document.querySelectorAll('ul.people li')].map(li => li.innerText).join('\\n')"
SEEN = (
    "({talking: [...document.querySelectorAll('li.talking .name')].map(e => e.textContent),"
    " partials: [...document.querySelectorAll('.line.partial .text')].map(e => e.textContent)})"
)


@pytest.fixture(scope="module")
def console(stt_address: str, mt_address: str, tts_address: str) -> Iterator[tuple[str, str]]:
    with console_orchestrator("--stt", stt_address, "--mt", mt_address, "--tts", tts_address) as (address, url):
        yield address, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_console_needs_a_token(console: tuple[str, str]) -> None:
    _, url = console
    parts = urllib.parse.urlsplit(url)
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    base = f"{parts.scheme}://{parts.netloc}"
    for path in ("/", "/api/state", "/api/events"):
        assert status(base + path) == 401, path
        assert status(base + path + "?token=wrong") == 401, path
        assert status(base + path, {"Authorization": "Bearer wrong"}) == 401, path
    assert status(url) == 200
    assert status(base + "/api/state", {"Authorization": f"Bearer {token}"}) == 200
    assert status(base + "/static/app.js") == 200  # code only, no data


def test_token_file_scopes(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("t-rpc rpc ops\nt-console console wall\nt-all * admin\nt-profiles profiles.read tts\n")
    tokens = load_tokens(str(path))
    assert [holder_of(tokens, t) is not None for t in ("t-rpc", "t-console", "t-all", "t-profiles", "", "x")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_console_shows_the_conversation(console: tuple[str, str], browser: Browser, tmp_path: Path) -> None:
    address, url = console
    browser.open(url)
    beto = Participant(address, "Beto", "es")
    ana = Participant(address, "Ana", "en")
    try:
        assert wait_until(lambda: ana.participant_id and beto.participant_id, 10), "join not confirmed"
        assert wait_until(lambda: {"Ana", "Beto"} <= set(browser.evaluate(PAGE_PEOPLE).split()), 10)
        people = browser.evaluate(PAGE_PEOPLE)
        assert "en" in people and "es" in people, people

        ana.say(corpus.prompt_pcm16("conf-getpin") + bytes(32000 * 2))
        talking: set[str] = set()
        partials: list[str] = []
        deadline = time.monotonic() + 60

        def spoken() -> bool:
            seen = browser.evaluate(SEEN)
            talking.update(seen["talking"])
            partials.extend(seen["partials"])
            english = [c for c in ana.captions if c.is_final and c.language_code == "en"]
            spanish = [c for c in beto.captions if c.is_final and c.language_code == "es"]
            return bool(english and spanish and ana.idle())

        assert wait_until(spoken, deadline - time.monotonic(), every=0.1), (ana.captions, beto.captions)
        assert "Ana" in talking, "the page never showed Ana talking"
        assert partials, "the page never showed a partial caption forming"
        english = [c.text for c in ana.captions if c.is_final and c.language_code == "en"]
        spanish = [c.text for c in beto.captions if c.is_final and c.language_code == "es"]

        def shown() -> bool:
            text = browser.text()
            return all(" ".join(t.split()) in text for t in english + spanish)

        assert wait_until(shown, 10), (english, spanish, browser.text())
        columns: dict[str, Any] = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('.column')].map(c => [c.dataset.language,"
            " [...c.querySelectorAll('.line.final .text')].map(e => e.textContent)]))"
        )
        assert any(english[-1] in line for line in columns["en"]), columns
        assert any(spanish[-1] in line for line in columns["es"]), columns
        print("page captions:", json.dumps(columns, ensure_ascii=False))

        count = "Number(document.querySelector('tr[data-stage=%s] td:nth-child(2)').textContent) > 0"
        assert wait_until(lambda: browser.evaluate(count % "stt_final"), 5), "no STT latency on the page"
        assert wait_until(lambda: browser.evaluate(count % "speech_end_to_first_audio"), 15), "no end-to-end latency"
        assert wait_until(lambda: not browser.evaluate(SEEN)["talking"], 10), "Ana still shown talking after silence"
        shot = browser.screenshot(tmp_path / "console.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000
        assert ana.error is None and beto.error is None, (ana.error, beto.error)
    finally:
        ana.leave()
        beto.leave()
    assert wait_until(lambda: "Ana" not in browser.evaluate(PAGE_PEOPLE), 10), "Ana still listed after leaving"


def test_events_stream_captions_and_unwatch_on_disconnect() -> None:
    """In process: /api/events carries a room's captions (rooms made later too) and stops watching when
    the client goes away."""

    async def run() -> None:
        stt, mt, tts = stages = [Stage(name, ["127.0.0.1:9"]) for name in ("stt", "mt", "tts")]
        rooms = Rooms(lambda room, ids, occupancy: Conference(stt, mt, tts, room=room, ids=ids, occupancy=occupancy))
        client = TestClient(TestServer(app(rooms, {"t": Holder("x", frozenset({"rpc"}))})))
        await client.start_server()
        try:
            response = await client.get("/api/events", headers={"Authorization": "Bearer t"})
            assert response.status == 200
            await response.content.readuntil(b"\n\n")
            late = rooms.create("late")
            await asyncio.sleep(0.3)
            watchers = [room.conference._caption_watchers for room in (rooms.default, late)]
            assert [len(w) for w in watchers] == [1, 1]
            caption = conference_pb2.Caption(speaker_name="Zoe", language_code="fr", text="bonjour", is_final=True)
            watchers[1][0][1].put_nowait(caption)
            event = (await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)).decode()
            assert event.startswith("event: caption\n") and '"room": "late"' in event and "bonjour" in event, event
            response.close()
            await asyncio.sleep(0.5)
            assert [len(room.conference._caption_watchers) for room in (rooms.default, late)] == [0, 0]
        finally:
            await client.close()
            for stage in stages:
                await stage.close()

    asyncio.run(run())
