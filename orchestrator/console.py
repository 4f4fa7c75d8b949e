"""The live web console: every room's participants (language, talking, muted), live captions in
every language side by side, and per-stage latency, served over HTTP beside the gRPC API.

`--console-port N` serves it on `--console-host` (127.0.0.1). Access needs a bearer token
(`Authorization: Bearer <token>`, or `?token=` for the page and its EventSource) from
`--console-token-file`, else the gRPC API's `--auth-tokens` file (format in common/security.py;
the token needs the `rpc` or `console` scope). With neither, a random token is made at start
and printed as `CONSOLE http://HOST:PORT/?token=...`; a token from a file is never printed.
With `--tls-cert`/`--tls-key` the console serves HTTPS with the gRPC API's certificate.

    GET /             the page (orchestrator/console_static/index.html)
    GET /static/...   its script and style sheet (no data in them: served to anyone)
    GET /api/state    JSON: rooms, participants, stage status, latency summaries
    GET /api/events   Server-Sent Events: every room's captions (partials and finals) and stage status
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import ssl
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from common.security import Holder, load_tokens
from lingua.conference.v1 import conference_pb2
from orchestrator.conference import Conference, Notice
from orchestrator.rooms import Rooms

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "console_static"
STAGES = ("stt_final", "mt", "tts_first_audio", "speech_end_to_first_audio")
"""The latencies the chart draws (names in conference.recent)."""
SCOPES = ("rpc", "console")
HEARTBEAT_S = 5.0
TOKENS: web.AppKey[dict[str, Holder]] = web.AppKey("tokens", dict)
ROOMS: web.AppKey[Rooms] = web.AppKey("rooms", Rooms)


def add_flags(p: argparse.ArgumentParser) -> None:
    """The console's flags."""
    p.add_argument("--console-port", type=int, default=0, help="web console port (0: off)")
    p.add_argument("--console-host", default="127.0.0.1", help="address for the web console")
    p.add_argument(
        "--console-token-file",
        default="",
        help="'<token> <scopes> [who]' file for the console (default: --auth-tokens; neither: print a made-up token)",
    )


def holder_of(tokens: dict[str, Holder], token: str) -> Holder | None:
    """Who holds token, if it is known and may use the console (compared in constant time)."""
    holder = next((h for t, h in tokens.items() if token and hmac.compare_digest(t, token)), None)
    return holder if holder is not None and any(holder.may(s) for s in SCOPES) else None


def request_token(request: web.Request) -> str:
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer "):
        return bearer.removeprefix("Bearer ").strip()
    return request.query.get("token", "")


@web.middleware
async def _auth(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/static/"):
        return await handler(request)
    if holder_of(request.app[TOKENS], request_token(request)) is None:
        log.warning("console: %s %s refused from %s: no valid token", request.method, request.path, request.remote)
        raise web.HTTPUnauthorized(
            text="the console needs a token: ?token=<token> or 'Authorization: Bearer <token>'\n",
            headers={"WWW-Authenticate": 'Bearer realm="lingua console"'},
        )
    return await handler(request)


def app(rooms: Rooms, tokens: dict[str, Holder]) -> web.Application:
    """The console's aiohttp application over rooms, admitting tokens."""
    application = web.Application(middlewares=[_auth])
    application[TOKENS] = tokens
    application[ROOMS] = rooms
    application.router.add_get("/", _index)
    application.router.add_get("/api/state", _state)
    application.router.add_get("/api/events", _events)
    application.router.add_static("/static/", STATIC)
    return application


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


def state(rooms: Rooms) -> dict[str, Any]:
    """What the page shows of every room, as JSON-ready values."""
    out = []
    for room in sorted(rooms.rooms.values(), key=lambda r: r.id):
        conference = room.conference
        summary = conference.recent.summary()
        participants = [
            {
                "id": p.id,
                "name": p.name,
                "language": p.language,
                "talking": p.utterance is not None,
                "muted": p.muted,
                "transport": "sip" if p.kind == conference_pb2.TRANSPORT_SIP else "grpc",
                "joined": p.joined_at,
            }
            for p in conference.participants.values()
        ]
        latency = {
            name: {"count": c, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "max_ms": round(top, 1)}
            for name, (c, p50, p95, top) in summary.items()
            if name in STAGES
        }
        stages = [
            {"stage": s.stage, "available": s.available, "message": s.message} for s in conference.stage_statuses()
        ]
        out.append(
            {
                "id": room.id,
                "name": room.name,
                "display_name": room.display_name,
                "pin": bool(room.pin),
                "languages": sorted(room.languages),
                "participants": participants,
                "latency": latency,
                "stages": stages,
            }
        )
    return {"time": time.time(), "stages": list(STAGES), "rooms": out}


async def _state(request: web.Request) -> web.StreamResponse:
    return web.json_response(state(request.app[ROOMS]), headers={"Cache-Control": "no-store"})


def notice_json(room: str, notice: Notice) -> tuple[str, dict[str, Any]]:
    """An SSE event name and its data for a caption or stage status of room."""
    if isinstance(notice, conference_pb2.StageStatus):
        return "stage", {"room": room, "stage": notice.stage, "available": notice.available, "message": notice.message}
    return "caption", {
        "room": room,
        "speaker_id": notice.speaker_participant_id,
        "speaker_name": notice.speaker_name,
        "utterance": notice.utterance_id,
        "source": notice.source_language_code,
        "language": notice.language_code,
        "text": notice.text,
        "final": notice.is_final,
    }


async def _events(request: web.Request) -> web.StreamResponse:
    """Captions and stage status of every room (rooms made later too) until the client goes away."""
    rooms = request.app[ROOMS]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    watched: dict[str, tuple[Conference, asyncio.Queue[Notice]]] = {}
    last = time.monotonic()
    try:
        await response.write(b"retry: 1000\n: connected\n\n")
        while request.transport is not None and not request.transport.is_closing():
            for room_id in watched.keys() - rooms.rooms.keys():
                conference, queue = watched.pop(room_id)
                conference.unwatch_captions(queue)
            for room_id in rooms.rooms.keys() - watched.keys():
                conference = rooms.rooms[room_id].conference
                watched[room_id] = (conference, conference.watch_captions(""))
            chunk = []
            for room_id, (_, queue) in watched.items():
                while not queue.empty():
                    event, data = notice_json(room_id, queue.get_nowait())
                    chunk.append(f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n")
            if chunk:
                await response.write("".join(chunk).encode())
                last = time.monotonic()
            elif time.monotonic() - last > HEARTBEAT_S:
                await response.write(b": heartbeat\n\n")
                last = time.monotonic()
            await asyncio.sleep(0.1)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        for conference, queue in watched.values():
            conference.unwatch_captions(queue)
    return response


async def serve(rooms: Rooms, args: argparse.Namespace) -> None:
    """Serve the console until cancelled (an orchestrator task; does nothing with --console-port 0)."""
    if not args.console_port:
        return
    path = args.console_token_file or args.auth_tokens
    generated = "" if path else secrets.token_urlsafe(24)
    tokens = load_tokens(path) if path else {generated: Holder("console token printed at start", frozenset(SCOPES))}
    runner = web.AppRunner(app(rooms, tokens), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        tls = None
        if getattr(args, "tls_cert", ""):  # the gRPC API's certificate: tokens never travel in clear beside it
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(args.tls_cert, args.tls_key)
        site = web.TCPSite(runner, args.console_host, args.console_port, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else args.console_port
        host = args.console_host if ":" not in args.console_host else f"[{args.console_host}]"
        query = f"?token={generated}" if generated else ""
        scheme = "https" if tls else "http"
        print(f"CONSOLE {scheme}://{host}:{port}/{query}", flush=True)
        log.info("console on %s://%s:%d/ (%s)", scheme, host, port, f"tokens of {path}" if path else "token printed")
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
