"""Run the orchestrator: `python -m orchestrator --port 50050`.

Serves the Conference gRPC API, follows Asterisk's ARI events for SIP callers,
ticks the conference every 20 ms, and exports Prometheus metrics on /metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import grpc
from prometheus_client import start_http_server

from common.paths import state_dir
from common.server import Register, parser, run
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc
from orchestrator import console
from orchestrator.ari import Ari, AriConfig
from orchestrator.calls import CallHandler
from orchestrator.conference import Conference
from orchestrator.listening import CatchUp
from orchestrator.room_store import RoomStore
from orchestrator.rooms import Rooms
from orchestrator.service import ConferenceServicer
from orchestrator.stages import Stage

SERVICE = conference_pb2.DESCRIPTOR.services_by_name["ConferenceService"].full_name


def ari_config(path: Path) -> AriConfig:
    """ARI settings from the env file asterisk/install writes, overridden by ARI_* variables."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    values.update({k: v for k, v in os.environ.items() if k.startswith("ARI_")})
    missing = [k for k in ("ARI_URL", "ARI_USER", "ARI_PASSWORD") if not values.get(k)]
    if missing:
        raise SystemExit(f"ARI settings missing ({', '.join(missing)}): run asterisk/install or set them")
    return AriConfig(values["ARI_URL"], values["ARI_USER"], values["ARI_PASSWORD"], values.get("ARI_APP", "lingua"))


def main() -> None:
    p = parser("orchestrator", 50050, "Conference orchestrator: ARI app, 20 ms frame loop, Conference gRPC API.")
    p.add_argument(
        "--stt", default="127.0.0.1:50051", help="speech-to-text servers, comma-separated, in failover order"
    )
    p.add_argument("--mt", default="127.0.0.1:50052", help="translation servers, comma-separated")
    p.add_argument("--tts", default="127.0.0.1:50053", help="speech synthesis servers, comma-separated")
    p.add_argument("--ari-env", default=str(state_dir() / "asterisk" / "ari.env"), help="ARI settings file")
    p.add_argument("--no-ari", action="store_true", help="no Asterisk: gRPC participants only")
    p.add_argument("--media", choices=("websocket", "rtp"), default="websocket", help="ExternalMedia transport")
    p.add_argument("--metrics-port", type=int, default=9464, help="Prometheus /metrics port (0: off)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address for /metrics")
    console.add_flags(p)
    p.add_argument(
        "--partials",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask STT for partial results (live captions, sentences sent ahead of the final); costs STT CPU",
    )
    p.add_argument("--frame-span-ratio", type=float, default=0.01, help="fraction of 20 ms ticks traced as spans")
    default = CatchUp()
    p.add_argument(
        "--catch-up-after-s",
        type=float,
        default=default.after_s,
        help="a listener this far behind on a speaker hears their next utterance faster",
    )
    p.add_argument("--max-catch-up-rate", type=float, default=default.max_rate, help="fastest catch-up speaking rate")
    p.add_argument(
        "--drop-after-s",
        type=float,
        default=default.drop_s,
        help="a listener this far behind when a new utterance arrives has the stale audio dropped",
    )
    p.add_argument(
        "--max-participants",
        type=int,
        default=5,
        help="callers and Join streams at once; more are refused (bench.capacity: 4 speakers and a listener "
        "keep real time on 2 cores with STT under 90 %% of a core)",
    )
    p.add_argument("--max-rooms", type=int, default=100, help="rooms besides conferences/default; more are refused")
    p.add_argument(
        "--rooms-file",
        type=Path,
        help="keep the rooms in this JSON file, so a restart has them back (a shard's own; default: not kept)",
    )
    p.add_argument(
        "--shard",
        default="0/1",
        help="K/N: this orchestrator is shard K of N and keeps the rooms whose number mod N is K (docs/deploy.md)",
    )
    args = p.parse_args()
    run(args, *_wire(args))


def _wire(args: argparse.Namespace) -> tuple[Register, Callable[[], Awaitable[None]]]:
    """Build the conference and return the server's register and stop hooks."""
    stt, mt, tts = (Stage(name, getattr(args, name).split(",")) for name in ("stt", "mt", "tts"))
    if not (0 <= args.catch_up_after_s < args.drop_after_s and 1.0 <= args.max_catch_up_rate <= 2.0):
        raise SystemExit("need 0 <= --catch-up-after-s < --drop-after-s and 1 <= --max-catch-up-rate <= 2")
    catch_up = CatchUp(after_s=args.catch_up_after_s, max_rate=args.max_catch_up_rate, drop_s=args.drop_after_s)

    def make(room: str, ids: Iterator[int], occupancy: Callable[[], int]) -> Conference:
        return Conference(
            stt,
            mt,
            tts,
            frame_span_ratio=args.frame_span_ratio,
            partials=args.partials,
            catch_up=catch_up,
            max_participants=args.max_participants,
            room=room,
            ids=ids,
            occupancy=occupancy,
        )

    shard, _, shards = args.shard.partition("/")
    if not (shard.isdigit() and shards.isdigit() and int(shard) < int(shards)):
        raise SystemExit(f"--shard {args.shard}: expected K/N with 0 <= K < N, e.g. 1/2")
    store = RoomStore(args.rooms_file) if args.rooms_file else None
    rooms = Rooms(make, int(shard), int(shards), args.max_rooms, store)
    ari = None if args.no_ari else Ari(ari_config(Path(args.ari_env)))
    calls = None if ari is None else CallHandler(ari, rooms, args.media)
    tasks: list[asyncio.Task[None]] = []

    async def publish_depths() -> None:
        while True:
            for room in list(rooms.rooms.values()):
                room.conference.publish_depths()
            await asyncio.sleep(1)

    async def register(server: grpc.aio.Server) -> list[str]:
        conference_pb2_grpc.add_ConferenceServiceServicer_to_server(ConferenceServicer(rooms), server)
        if args.metrics_port:
            start_http_server(args.metrics_port, addr=args.metrics_host)
        tasks.append(asyncio.create_task(console.serve(rooms, args)))
        rooms.start()
        tasks.append(asyncio.create_task(publish_depths()))
        if calls is not None:
            tasks.append(asyncio.create_task(calls.run()))
        return [SERVICE]

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        rooms.stop()
        if calls is not None:
            await calls.close()
        for room, participant in rooms.all_participants():
            room.conference.leave(participant.id)
        for stage in (stt, mt, tts):
            await stage.close()
        if ari is not None:
            with contextlib.suppress(Exception):
                await ari.close()

    return register, stop


if __name__ == "__main__":
    main()
