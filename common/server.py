"""Flags and the grpc.aio serving loop shared by every server.

Each server builds its parser with `parser()`, adds its own flags, then calls
`run(args, register)`. Every flag can also come from the environment as
LINGUA_<SERVER>_<FLAG> (for example LINGUA_STT_PORT=50051).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from common import security
from common.guard import GuardInterceptor
from common.telemetry import TracingInterceptor, setup_tracing, shutdown_tracing

log = logging.getLogger(__name__)

Register = Callable[[grpc.aio.Server], Awaitable[Sequence[str]]]
"""Adds servicers to the server and returns their full service names."""


class _EnvDefaults(argparse.ArgumentParser):
    """ArgumentParser whose defaults come from LINGUA_<PREFIX>_<DEST> when set."""

    def __init__(self, prefix: str, **kwargs: object) -> None:
        self.env_prefix = f"LINGUA_{prefix.upper()}_"
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def add_argument(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        action = super().add_argument(*args, **kwargs)
        value = os.environ.get(self.env_prefix + action.dest.upper())
        if value is not None and action.dest != "help":
            if action.nargs == 0:  # an on/off flag: 1/true/yes/on sets it
                action.default = value.strip().lower() in ("1", "true", "yes", "on")
            else:
                action.default = action.type(value) if callable(action.type) else value
            action.required = False
        if action.help is not None:
            action.help += f" [env {self.env_prefix}{action.dest.upper()}]"
        return action


def parser(name: str, default_port: int, description: str) -> argparse.ArgumentParser:
    """The common flags; name is the env prefix (stt, mt, tts, profile)."""
    p = _EnvDefaults(name, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.set_defaults(service_name=name)
    p.add_argument("--host", default="127.0.0.1", help="address to bind ([::] or 0.0.0.0 opens every interface)")
    p.add_argument("--port", type=int, default=default_port, help="port to bind (0 picks one)")
    p.add_argument("--max-message-mb", type=int, default=16, help="largest message in or out, MiB")
    p.add_argument("--max-streams", type=int, default=64, help="most concurrent RPCs; more are refused at once")
    p.add_argument("--idle-seconds", type=float, default=120.0, help="a client stream silent this long is closed")
    p.add_argument("--grace-seconds", type=float, default=10.0, help="drain time on SIGTERM")
    p.add_argument(
        "--max-connection-age-s",
        type=float,
        default=300.0,
        help="ask clients to reconnect after this long (live streams finish), so they re-resolve and use new replicas",
    )
    p.add_argument("--log-level", default="INFO", help="logging level")
    security.add_flags(p)
    return p


Hook = Callable[[], Awaitable[None]]


async def serve(
    args: argparse.Namespace, register: Register, on_stop: Hook | None = None, ready: Hook | None = None
) -> None:
    """Serve until SIGTERM/SIGINT, then drain in-flight streams and stop.

    Health answers NOT_SERVING until ready (if given) has returned: what the first
    request needs (voice embeddings, say) is prepared before load balancers and
    the launcher send any.
    """
    limit = args.max_message_mb * 1024 * 1024
    credentials = security.server_credentials(args)
    guard = GuardInterceptor(args.max_streams, args.idle_seconds)
    server = grpc.aio.server(
        interceptors=[*security.server_interceptors(args), guard, TracingInterceptor()],
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            # Clients ping every 2 s to find a stalled server quickly: allow it, even between calls.
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
            ("grpc.http2.max_ping_strikes", 0),
            # After this a connection takes no new calls (GOAWAY); its streams go on to their end.
            ("grpc.max_connection_age_ms", int(args.max_connection_age_s * 1000)),
        ],
    )
    names = list(await register(server))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    bind = f"{args.host}:{args.port}"
    port = server.add_insecure_port(bind) if credentials is None else server.add_secure_port(bind, credentials)
    if port == 0:
        raise SystemExit(f"cannot bind {args.host}:{args.port}")
    await server.start()
    for service in ["", *names]:
        await health_servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    print(f"LISTENING {port}", flush=True)
    if ready is not None:
        await ready()
    for service in ["", *names]:
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving %s on port %d", ", ".join(names), port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: draining streams for up to %.1f s", args.grace_seconds)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(args.grace_seconds)
    if on_stop is not None:
        await on_stop()
    shutdown_tracing()
    log.info("stopped")


def run(args: argparse.Namespace, register: Register, on_stop: Hook | None = None, ready: Hook | None = None) -> None:
    """Configure logging and tracing, and serve (the body of each server's __main__)."""
    setup_tracing(f"lingua-{args.service_name}")
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args, register, on_stop, ready))
