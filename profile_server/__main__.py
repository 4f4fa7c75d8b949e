"""Run the voice profile server: python -m profile_server --port 50054."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from common.paths import state_dir
from common.server import parser, run
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc
from profile_server.engines import ENGINES, build
from profile_server.service import VoiceProfileServicer
from profile_server.store import ProfileStore

log = logging.getLogger("profile_server")


def main() -> None:
    """Parse flags, load and warm up the embedder, then serve."""
    p = parser("profile", 50054, "Voice profile server: enrolls speakers, embeds and compares voices.")
    p.add_argument("--engine", default="embedded", choices=sorted(ENGINES), help="embedder to run")
    p.add_argument("--data-dir", type=Path, default=state_dir() / "profiles", help="folder that holds the profiles")
    p.add_argument("--workers", type=int, default=2, help="threads for model calls")
    p.add_argument(
        "--model-dir", type=Path, default=None, help="ecapa engine: model folder (default .state/models/ecapa-voxceleb)"
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="ecapa engine: torch device")
    args = p.parse_args()
    executor = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="embed")

    async def register(server: grpc.aio.Server) -> list[str]:
        started = time.perf_counter()
        embedder = await asyncio.to_thread(build, args.engine, args)
        await asyncio.get_running_loop().run_in_executor(executor, embedder.warm_up)
        log.info("embedder %s ready in %.1f s", embedder.name, time.perf_counter() - started)
        store = ProfileStore(args.data_dir, caches=state_dir() / "cache")
        servicer = VoiceProfileServicer(embedder, store, executor)
        profile_pb2_grpc.add_VoiceProfileServiceServicer_to_server(servicer, server)
        return [profile_pb2.DESCRIPTOR.services_by_name["VoiceProfileService"].full_name]

    async def on_stop() -> None:
        executor.shutdown(wait=True)

    run(args, register, on_stop)


if __name__ == "__main__":
    main()
