"""Run the text-to-speech server: python -m tts_server --port 50053."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from common.errors import InvalidArgument
from common.languages import base_language
from common.paths import cache_dir
from common.server import parser, run
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tts_server.engines import ENGINES, build
from tts_server.matching import VoiceMatcher
from tts_server.service import TextToSpeechServicer

log = logging.getLogger("tts_server")


def default_voices(spec: str) -> dict[str, str]:
    """Parse "es=espeak-female,fr=jf_nezumi" into {language: voice}."""
    pairs = [item.split("=", 1) for item in spec.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit(f"--default-voices wants LANG=VOICE[,LANG=VOICE...], got {spec!r}")
    try:
        return {base_language(lang): voice.strip() for lang, voice in pairs}
    except InvalidArgument as err:
        raise SystemExit(f"--default-voices: {err}") from None


def main() -> None:
    """Parse flags, load and warm up the engines, then serve."""
    p = parser("tts", 50053, "Text-to-speech server: streams speech for streamed text.")
    p.add_argument("--engine", default="embedded", choices=sorted(ENGINES), help="synthesis engine")
    p.add_argument("--profile-server", default="", help="VoiceProfileService address, for voice_profile_id")
    p.add_argument("--workers", type=int, default=4, help="threads for synthesis")
    p.add_argument("--threads", type=int, default=2, help="threads per model run (onnxruntime; torch for xtts)")
    p.add_argument("--default-voices", default="", help="LANG=VOICE,... overriding the default voice of languages")
    p.add_argument("--model-dir", default="", help="model folder of a production engine (default .state/models/NAME)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="torch device (xtts)")
    p.add_argument("--xtts-stream-chunk", type=int, default=20, help="GPT tokens per streamed audio chunk (xtts)")
    args = p.parse_args()
    if args.xtts_stream_chunk < 1:
        p.error("--xtts-stream-chunk must be at least 1")
    defaults = default_voices(args.default_voices)
    executor = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="tts")
    tasks: list[asyncio.Task[None]] = []
    matchers: list[VoiceMatcher] = []

    async def register(server: grpc.aio.Server) -> list[str]:
        started = time.perf_counter()
        try:
            engine = await asyncio.to_thread(build, args.engine, args, defaults)
        except ValueError as err:
            raise SystemExit(f"tts_server: {err}") from None
        await asyncio.get_running_loop().run_in_executor(executor, engine.warm_up)
        log.info("engine %s ready in %.1f s", args.engine, time.perf_counter() - started)
        matcher = None
        if args.profile_server:
            matcher = VoiceMatcher(args.profile_server, engine, executor, cache_dir("tts-voices"))
            matchers.append(matcher)
            tasks.append(asyncio.create_task(matcher.prefetch()))
        servicer = TextToSpeechServicer(engine, executor, matcher)
        tts_pb2_grpc.add_TextToSpeechServiceServicer_to_server(servicer, server)
        return [tts_pb2.DESCRIPTOR.services_by_name["TextToSpeechService"].full_name]

    async def on_stop() -> None:
        for task in tasks:
            task.cancel()
        for matcher in matchers:
            await matcher.close()
        executor.shutdown(wait=True, cancel_futures=True)

    run(args, register, on_stop)


if __name__ == "__main__":
    main()
