"""Run the speech-to-text server: python -m stt_server --port 50051."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence

import grpc

from common.errors import InvalidArgument
from common.languages import require_supported
from common.server import parser, run
from lingua.stt.v1 import stt_pb2, stt_pb2_grpc
from stt_server.decoder import DecodePool
from stt_server.engines import ENGINES, build
from stt_server.service import SpeechToTextServicer
from stt_server.stream import Tuning
from stt_server.turn import TurnDetector, TurnModel

log = logging.getLogger("stt_server")

TURN_ENDPOINT_MS = 150
TURN_THRESHOLD = 0.5

DETECT_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "ca")
"""The languages the conference serves end to end (MT and TTS): what detection answers with by default."""


def _detect_languages(flag: str | None, supported: frozenset[str]) -> frozenset[str]:
    """What detection may answer with: the flag's languages (each must be supported), else the served ones."""
    if flag is None:
        return frozenset(tag for tag in DETECT_LANGUAGES if tag in supported)
    try:
        return frozenset(
            require_supported(tag, supported, "--detect-languages") for tag in flag.split(",") if tag.strip()
        )
    except InvalidArgument as err:
        raise SystemExit(f"stt_server: {err}") from None


def _args() -> argparse.Namespace:
    p = parser("stt", 50051, "Streaming speech-to-text gRPC server.")
    p.add_argument("--engine", default="embedded", choices=sorted(ENGINES), help="recognition engine")
    p.add_argument("--cpu-threads", type=int, default=2, help="threads per decode")
    p.add_argument("--workers", type=int, default=1, help="decodes that may run at once")
    p.add_argument("--max-utterance-s", type=float, default=15.0, help="force a final after this much speech")
    p.add_argument("--window-s", type=float, default=8.0, help="shortest audio window the Whisper encoder sees")
    p.add_argument("--final-beam-size", type=int, default=1, help="beam size of final decodes (partials are greedy)")
    p.add_argument(
        "--detect-languages",
        default=None,
        help="languages auto-detection may answer with (comma-separated; empty: any the engine knows); "
        f"default: those of {','.join(DETECT_LANGUAGES)} the engine supports",
    )
    p.add_argument(
        "--turn-endpoint-ms",
        type=int,
        default=TURN_ENDPOINT_MS,
        help="close an utterance after this much silence when Smart Turn says the turn is complete "
        "(else after the stream's endpoint); 0: off (bench/endpoint.py measured the default on dev)",
    )
    p.add_argument(
        "--turn-threshold", type=float, default=TURN_THRESHOLD, help="Smart Turn probability that counts as complete"
    )
    p.add_argument(
        "--english-model",
        default="base",
        choices=["base", "tiny.en"],
        help="embedded: the model English streams use; base measured more accurate on dev (bench/stt.py)",
    )
    p.add_argument("--model-dir", help="production engine's model folder (default .state/models/<model>)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="NeMo: where the model runs")
    p.add_argument("--nemo-language", default="en", help="NeMo: the language the model speaks")
    p.add_argument(
        "--nemo-att-context", help="NeMo: LEFT,RIGHT attention context of a multi-lookahead model, e.g. 70,13"
    )
    p.add_argument("--nemo-decoder", choices=["ctc", "rnnt"], help="NeMo: decoder of a hybrid RNNT-CTC model")
    args = p.parse_args()
    if args.cpu_threads < 1 or args.workers < 1 or args.final_beam_size < 1:
        p.error("--cpu-threads, --workers and --final-beam-size must be at least 1")
    if not 1.0 <= args.window_s <= 30.0:
        p.error("--window-s must be within 1..30")
    return args


def main() -> None:
    """Parse flags, build and warm up the engine, then serve."""
    args = _args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    engine = build(args.engine, args)
    if not 1.0 <= args.max_utterance_s <= engine.recognizer.max_seconds:
        raise SystemExit(f"--max-utterance-s must be within 1..{engine.recognizer.max_seconds:g} for this engine")
    engine.recognizer.warm_up()
    log.info("engine %s ready in %.1f s", args.engine, time.monotonic() - started)
    pool = DecodePool(engine.recognizer)
    detect = _detect_languages(args.detect_languages, engine.recognizer.languages)
    turn = None
    if args.turn_endpoint_ms:
        model = TurnModel()
        model.warm_up()
        turn = TurnDetector(model)
    tuning = Tuning(
        max_utterance_s=args.max_utterance_s, turn_endpoint_ms=args.turn_endpoint_ms, turn_threshold=args.turn_threshold
    )
    servicer = SpeechToTextServicer(engine, pool, tuning, detect, turn)

    async def register(server: grpc.aio.Server) -> Sequence[str]:
        stt_pb2_grpc.add_SpeechToTextServiceServicer_to_server(servicer, server)
        return [stt_pb2.DESCRIPTOR.services_by_name["SpeechToTextService"].full_name]

    async def on_stop() -> None:
        await asyncio.to_thread(pool.close)
        if turn is not None:
            turn.close()

    run(args, register, on_stop)


if __name__ == "__main__":
    main()
