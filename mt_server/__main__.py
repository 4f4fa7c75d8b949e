"""Run the translation server: python -m mt_server --port 50052."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc

from common.server import parser, run
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from mt_server.engines import ENGINES, build
from mt_server.engines.registry import Router
from mt_server.service import MAX_STREAM_CHARS, MAX_TEXT_CHARS, TranslatorService

log = logging.getLogger("mt_server")


def flags() -> argparse.ArgumentParser:
    """The common flags plus the translation server's own."""
    p = parser("mt", 50052, "Streaming text translation (lingua.mt.v1.TranslatorService).")
    p.add_argument("--engine", default="embedded", choices=sorted(ENGINES), help="engine set to translate with")
    p.add_argument("--max-steps", type=int, default=3, help="most engine steps in a pivot route")
    p.add_argument("--workers", type=int, default=8, help="threads running engine calls")
    p.add_argument("--cache-size", type=int, default=2048, help="recent translations kept in memory")
    p.add_argument(
        "--max-text-chars", type=int, default=MAX_TEXT_CHARS, help="longest text accepted per segment or request"
    )
    p.add_argument(
        "--max-stream-chars",
        type=int,
        default=MAX_STREAM_CHARS,
        help="most characters of segments accepted on one stream, each version of a segment counted",
    )
    p.add_argument(
        "--deepl-server-url", default="", help="DeepL API base URL (default: DeepL's, by key type); key: DEEPL_AUTH_KEY"
    )
    p.add_argument("--apy-python", default="/usr/bin/python3", help="Python with apertium_apy (Debian apertium-apy)")
    p.add_argument("--apy-modes", default="/usr/share/apertium/modes", help="folder of installed Apertium modes")
    p.add_argument(
        "--apy-wait-seconds", type=float, default=5.0, help="how long a request waits for a restarting apertium-apy"
    )
    return p


def main() -> None:
    """Build and warm the engines, then serve until SIGTERM."""
    p = flags()
    args = p.parse_args()
    if min(args.max_text_chars, args.max_stream_chars) < 1:
        p.error("--max-text-chars and --max-stream-chars must be at least 1")
    executor = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="mt-engine")
    routers: list[Router] = []

    def start() -> Router:
        began = time.monotonic()
        router = build(args.engine, args)
        routers.append(router)
        router.warm_up()
        routes = router.routes()
        log.info(
            "engine %s ready in %.1f s: %d direct pairs, %d pairs in all",
            args.engine,
            time.monotonic() - began,
            sum(len(route) == 1 for route in routes.values()),
            len(routes),
        )
        return router

    async def register(server: grpc.aio.Server) -> Sequence[str]:
        router = await asyncio.to_thread(start)
        service = TranslatorService(
            router,
            executor,
            cache_size=args.cache_size,
            max_text_chars=args.max_text_chars,
            max_stream_chars=args.max_stream_chars,
        )
        mt_pb2_grpc.add_TranslatorServiceServicer_to_server(service, server)
        return [mt_pb2.DESCRIPTOR.services_by_name["TranslatorService"].full_name]

    def close() -> None:
        executor.shutdown(wait=False, cancel_futures=True)
        while routers:
            routers.pop().close()

    async def stop() -> None:
        await asyncio.to_thread(close)

    try:
        run(args, register, stop)
    finally:
        close()


if __name__ == "__main__":
    main()
