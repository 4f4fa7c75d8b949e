"""TLS, mutual TLS and bearer tokens, for every server and every client.

Servers: `--tls-cert`/`--tls-key` serve TLS; `--tls-client-ca` also requires client
certificates signed by that CA (mutual TLS); `--auth-tokens FILE` checks a bearer
token on every RPC but health and reflection. The file has one token per line:

    <token> <scope>[,<scope>...] [who]

Scopes: `rpc` (the ordinary RPCs), `profiles.read` (GetProfile, ListProfiles),
`profiles.audio` (GetEnrollmentAudio: a person's recorded voice), `profiles.delete`
(DeleteProfile), or `*` for all. Tokens are never logged; a refused call is logged
with the peer and the holder's name only.

Clients (the orchestrator's stage clients, the TTS server's profile client, the
tools) read LINGUA_TLS_CA (the servers' CA), LINGUA_TLS_CLIENT_CERT and
LINGUA_TLS_CLIENT_KEY (for mutual TLS) and LINGUA_TOKEN from the environment.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from common.handlers import Behavior, ServiceInterceptor, rewrap

log = logging.getLogger(__name__)

SCOPES = {
    "/lingua.profile.v1.VoiceProfileService/GetProfile": "profiles.read",
    "/lingua.profile.v1.VoiceProfileService/ListProfiles": "profiles.read",
    "/lingua.profile.v1.VoiceProfileService/GetEnrollmentAudio": "profiles.audio",
    "/lingua.profile.v1.VoiceProfileService/DeleteProfile": "profiles.delete",
}
"""Methods that need more than the `rpc` scope."""


def add_flags(p: argparse.ArgumentParser) -> None:
    """The server's TLS and token flags."""
    p.add_argument("--tls-cert", default="", help="PEM certificate chain: serve TLS (with --tls-key)")
    p.add_argument("--tls-key", default="", help="PEM private key of --tls-cert")
    p.add_argument("--tls-client-ca", default="", help="PEM CA: require client certificates it signed (mutual TLS)")
    p.add_argument("--auth-tokens", default="", help="file of '<token> <scopes> [who]' lines: require a bearer token")


def server_credentials(args: argparse.Namespace) -> grpc.ServerCredentials | None:
    """TLS credentials from the flags, or None for plaintext; SystemExit on a bad combination."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    if not args.tls_cert:
        if args.tls_client_ca or args.auth_tokens:
            raise SystemExit(
                "--tls-client-ca and --auth-tokens need TLS (--tls-cert and --tls-key): tokens must not travel in clear"
            )
        return None
    chain = Path(args.tls_cert).read_bytes()
    key = Path(args.tls_key).read_bytes()
    client_ca = Path(args.tls_client_ca).read_bytes() if args.tls_client_ca else None
    required = client_ca is not None
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca, require_client_auth=required)


@dataclass(frozen=True)
class Holder:
    """Who a token belongs to and what it may do."""

    who: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


def load_tokens(path: str) -> dict[str, Holder]:
    """The token file (see the module); SystemExit naming the line when it is malformed."""
    tokens: dict[str, Holder] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 2:
            raise SystemExit(f"{path}:{number}: want '<token> <scopes> [who]'")
        tokens[fields[0]] = Holder(" ".join(fields[2:]) or f"token on line {number}", frozenset(fields[1].split(",")))
    if not tokens:
        raise SystemExit(f"{path}: no tokens")
    return tokens


class AuthInterceptor(ServiceInterceptor):
    """Refuses RPCs without a known bearer token (UNAUTHENTICATED) or its scope (PERMISSION_DENIED)."""

    def __init__(self, tokens: dict[str, Holder]) -> None:
        self.tokens = tokens

    def intercept(self, handler: grpc.RpcMethodHandler, method: str, metadata: dict[str, Any]) -> grpc.RpcMethodHandler:
        bearer = str(metadata.get("authorization", ""))
        token = bearer.removeprefix("Bearer ").strip() if bearer.startswith("Bearer ") else ""
        holder = next((h for t, h in self.tokens.items() if token and hmac.compare_digest(t, token)), None)
        scope = SCOPES.get(method, "rpc")
        if holder is None:
            why = "no bearer token" if not token else "an unknown bearer token"
            message = f"{method} with {why}: send 'authorization: Bearer <token>'"
            return _refusing(handler, grpc.StatusCode.UNAUTHENTICATED, message)
        if not holder.may(scope):
            log.warning("%s refused to %s: it lacks the %s scope", method, holder.who, scope)
            message = f"{method} needs the {scope!r} scope, which this token lacks"
            return _refusing(handler, grpc.StatusCode.PERMISSION_DENIED, message)
        return handler


def _refusing(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    def wrap(_: Behavior) -> Behavior:
        if handler.response_streaming:

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await context.abort(code, message)
                yield  # an async generator, like the behavior it replaces

            return stream

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(code, message)

        return call

    return rewrap(handler, wrap)


def server_interceptors(args: argparse.Namespace) -> list[grpc.aio.ServerInterceptor]:
    """The token check, when the flags ask for one."""
    return [AuthInterceptor(load_tokens(args.auth_tokens))] if args.auth_tokens else []


def channel_credentials() -> grpc.ChannelCredentials | None:
    """Client credentials from the environment (see the module), or None for plaintext."""
    ca, cert, key = (os.environ.get(f"LINGUA_TLS_{name}", "") for name in ("CA", "CLIENT_CERT", "CLIENT_KEY"))
    token = os.environ.get("LINGUA_TOKEN", "")
    if not ca:
        if token or cert:
            raise SystemExit("LINGUA_TOKEN and LINGUA_TLS_CLIENT_CERT need LINGUA_TLS_CA (the servers' CA): TLS")
        return None
    tls = grpc.ssl_channel_credentials(
        Path(ca).read_bytes(),
        private_key=Path(key).read_bytes() if key else None,
        certificate_chain=Path(cert).read_bytes() if cert else None,
    )
    if token:
        return grpc.composite_channel_credentials(tls, grpc.access_token_call_credentials(token))
    return tls


Options = list[tuple[str, Any]]


BALANCED: Options = [
    # Spread the calls over every address the target resolves to (a headless Service's ready
    # pods, `dns:///stt.<ns>.svc:50051`); gRPC's default, pick_first, sends them all to one.
    ("grpc.lb_policy_name", "round_robin"),
    # round_robin reconnects on its own, and fails calls while it waits: a restarted server is
    # found within a second, not after gRPC's default backoff (up to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
"""Options for a long-lived channel from one server to others (the orchestrator's stages, the
TTS server's profile client)."""


def open_channel(address: str, options: Options | None = None) -> grpc.Channel:
    """A blocking channel to address, over TLS when the environment says so."""
    credentials = channel_credentials()
    if credentials is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, credentials, options=options)


def open_aio_channel(address: str, options: Options | None = None) -> grpc.aio.Channel:
    """An asyncio channel to address, over TLS when the environment says so."""
    credentials = channel_credentials()
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, credentials, options=options)
