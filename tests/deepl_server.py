"""A local HTTP server that speaks the DeepL API v2 (languages, glossaries, translate), for tests.

The real `deepl` client talks to it over a socket. Its "translation" is a small
word table, enough to show which glossary and formality a request carried; it
records every request so tests can see what the client sent.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

SOURCES = ["DE", "EN", "ES", "FR"]
TARGETS = {"DE": True, "EN-GB": False, "EN-US": False, "ES": True, "FR": True}
"""Target code -> supports formality."""
GLOSSARY_PAIRS = [("en", "de"), ("en", "es"), ("de", "en")]
"""No en->fr: that pair's glossary terms must travel as placeholders."""
WORDS = {
    ("EN", "DE"): {"hello": "hallo", "how": "wie", "are": "geht", "the": "die", "meeting": "Besprechung"},
    ("EN", "FR"): {"hello": "bonjour", "how": "comment", "are": "allez", "the": "la", "meeting": "réunion"},
    ("EN", "ES"): {"hello": "hola", "how": "cómo", "are": "estás", "the": "la", "meeting": "reunión"},
}
YOU = {("DE", "more"): "Ihnen", ("DE", "less"): "dir", ("FR", "more"): "vous", ("FR", "less"): "tu"}
"""How "you" comes out per target and formality; default is formal."""


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    payload: dict[str, Any]


@dataclass
class FakeDeepL:
    """The server's state: its key, glossaries, and what it was sent."""

    key: str
    url: str = ""
    glossaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def sent(self, path: str) -> list[dict[str, Any]]:
        """Payloads of the requests to path."""
        return [r.payload for r in self.requests if r.path == path]


def _translate(text: str, source: str, target: str, formality: str, entries: dict[str, str]) -> str:
    """Glossary terms replaced whole, every other word looked up in the table."""
    if entries:
        terms = "|".join(rf"(?<!\w){re.escape(term)}(?!\w)" for term in sorted(entries, key=len, reverse=True))
        parts = re.split(f"({terms})", text, flags=re.IGNORECASE)
        by_fold = {term.casefold(): replacement for term, replacement in entries.items()}
        return "".join(
            by_fold[part.casefold()] if i % 2 else _translate(part, source, target, formality, {})
            for i, part in enumerate(parts)
        )
    register = "less" if formality.endswith("less") else "more"
    table = WORDS.get((source, target.split("-")[0]), {})

    def word(match: re.Match[str]) -> str:
        w = match[0]
        if w.lower() == "you":
            return YOU.get((target, register), w)
        return table.get(w.lower(), w)

    return re.sub(r"[^\W\d_]+", word, text)


def _app(state: FakeDeepL) -> web.Application:
    async def read(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body: dict[str, Any] = await request.json()
        else:  # form fields, in the body even of a GET (as the client sends them)
            body = dict(parse_qsl(await request.text()))
        body.update(request.query)
        state.requests.append(Recorded(request.method, request.path, body))
        return body

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"DeepL-Auth-Key {state.key}":
            return web.json_response({"message": "Wrong auth key"}, status=403)
        response: web.StreamResponse = await handler(request)
        return response

    async def languages(request: web.Request) -> web.Response:
        body = await read(request)
        if body.get("type") == "target":
            return web.json_response([{"language": c, "name": c, "supports_formality": f} for c, f in TARGETS.items()])
        return web.json_response([{"language": c, "name": c} for c in SOURCES])

    async def glossary_pairs(request: web.Request) -> web.Response:
        await read(request)
        return web.json_response(
            {"supported_languages": [{"source_lang": s, "target_lang": t} for s, t in GLOSSARY_PAIRS]}
        )

    async def create_glossary(request: web.Request) -> web.Response:
        body = await read(request)
        assert body["entries_format"] == "tsv"
        entries = dict(line.split("\t", 1) for line in body["entries"].splitlines() if line)
        glossary_id = str(uuid.uuid4())
        info = {
            "glossary_id": glossary_id,
            "name": body["name"],
            "ready": True,
            "source_lang": body["source_lang"].lower(),
            "target_lang": body["target_lang"].lower(),
            "creation_time": "2026-11-21T00:00:00.000Z",
            "entry_count": len(entries),
        }
        state.glossaries[glossary_id] = info
        state.entries[glossary_id] = entries
        return web.json_response(info, status=201)

    async def list_glossaries(request: web.Request) -> web.Response:
        await read(request)
        return web.json_response({"glossaries": list(state.glossaries.values())})

    async def translate(request: web.Request) -> web.Response:
        body = await read(request)
        texts = body["text"] if isinstance(body["text"], list) else [body["text"]]
        source, target = body.get("source_lang", "EN").upper(), body["target_lang"].upper()
        if target not in TARGETS:
            return web.json_response({"message": f"Value for 'target_lang' not supported: {target}"}, status=400)
        entries = state.entries.get(body.get("glossary_id", ""), {})
        translations = [
            {
                "detected_source_language": source,
                "text": _translate(t, source, target, body.get("formality", ""), entries),
                "billed_characters": len(t),
            }
            for t in texts
        ]
        return web.json_response({"translations": translations})

    app = web.Application(middlewares=[auth])
    app.router.add_route("*", "/v2/languages", languages)
    app.router.add_get("/v2/glossary-language-pairs", glossary_pairs)
    app.router.add_post("/v2/glossaries", create_glossary)
    app.router.add_get("/v2/glossaries", list_glossaries)
    app.router.add_post("/v2/translate", translate)
    return app


@contextmanager
def deepl_server(key: str) -> Iterator[FakeDeepL]:
    """Serve the DeepL protocol on a free loopback port in a background thread."""
    state = FakeDeepL(key)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app(state))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()
