"""Run the text-to-speech server: python -m tts_server --port 50053."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from common.errors import InvalidArgument
from common.languages import base_language
from common.paths import cache_dir
from common.server import parser, run
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc
from tts_server.engines import ENGINES, PREFER, build
from tts_server.matching import SHIFT_SEMITONES, VoiceMatcher
from tts_server.service import MAX_STREAM_CHARS, MAX_TEXT_CHARS, TextToSpeechServicer

log = logging.getLogger("tts_server")


def default_voices(spec: str) -> dict[str, str]:
    """Parse "kokoro,es=espeak-female" into {language: voice}, with an engine name under PREFER."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    engines = [item for item in items if "=" not in item]
    if len(engines) > 1:
        raise SystemExit(f"--default-voices names more than one engine: {', '.join(engines)}")
    pairs = [item.split("=", 1) for item in items if "=" in item]
    try:
        out = {base_language(lang): voice.strip() for lang, voice in pairs}
    except InvalidArgument as err:
        raise SystemExit(f"--default-voices: {err}") from None
    if engines:
        out[PREFER] = engines[0]
    return out


def main() -> None:
    """Parse flags, load and warm up the engines, then serve."""
    p = parser("tts", 50053, "Text-to-speech server: streams speech for streamed text.")
    p.add_argument("--engine", default="embedded", choices=sorted(ENGINES), help="synthesis engine")
    p.add_argument("--profile-server", default="", help="VoiceProfileService address, for voice_profile_id")
    p.add_argument("--voice-cache", default="", help="folder of voice embeddings [.state/cache/tts-voices]")
    p.add_argument("--workers", type=int, default=4, help="threads for synthesis")
    p.add_argument(
        "--voice-shift",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="shift a matched voice's pitch and formants toward the speaker's profile",
    )
    p.add_argument(
        "--voice-shift-min-semitones",
        type=float,
        default=SHIFT_SEMITONES,
        help="shift only where the voice's and the speaker's pitch are at least this far apart",
    )
    p.add_argument("--threads", type=int, default=2, help="threads per model run (onnxruntime; torch for xtts)")
    p.add_argument(
        "--default-voices",
        default="",
        help="ENGINE and/or LANG=VOICE,...: prefer an engine's best-measured voices (kokoro), or set a language's",
    )
    p.add_argument("--model-dir", default="", help="model folder of a production engine (default .state/models/NAME)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="torch device (xtts)")
    p.add_argument("--xtts-stream-chunk", type=int, default=20, help="GPT tokens per streamed audio chunk (xtts)")
    p.add_argument(
        "--max-text-chars", type=int, default=MAX_TEXT_CHARS, help="most characters of text in one TextInput message"
    )
    p.add_argument(
        "--max-stream-chars",
        type=int,
        default=MAX_STREAM_CHARS,
        help="most characters of text on one stream, all its messages together",
    )
    args = p.parse_args()
    if args.xtts_stream_chunk < 1:
        p.error("--xtts-stream-chunk must be at least 1")
    if min(args.max_text_chars, args.max_stream_chars) < 1:
        p.error("--max-text-chars and --max-stream-chars must be at least 1")
    defaults = default_voices(args.default_voices)
    executor = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="tts")
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
            cache = Path(args.voice_cache) if args.voice_cache else cache_dir("tts-voices")
            cache.mkdir(parents=True, exist_ok=True)
            shift = args.voice_shift_min_semitones if args.voice_shift else None
            matcher = VoiceMatcher(args.profile_server, engine, executor, cache, shift)
            matchers.append(matcher)
        servicer = TextToSpeechServicer(
            engine, executor, matcher, max_text_chars=args.max_text_chars, max_stream_chars=args.max_stream_chars
        )
        tts_pb2_grpc.add_TextToSpeechServiceServicer_to_server(servicer, server)
        return [tts_pb2.DESCRIPTOR.services_by_name["TextToSpeechService"].full_name]

    async def ready() -> None:
        """Embed the voices a profile may be matched to before serving (cached on disk after the first start)."""
        for matcher in matchers:
            started = time.perf_counter()
            await matcher.prefetch()
            log.info("voice embeddings ready in %.1f s", time.perf_counter() - started)

    async def on_stop() -> None:
        for matcher in matchers:
            await matcher.close()
        executor.shutdown(wait=True, cancel_futures=True)

    run(args, register, on_stop, ready)


if __name__ == "__main__":
    main()
