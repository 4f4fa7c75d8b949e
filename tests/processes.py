"""The test processes' sockets: who listens where, and SIGKILL (no drain, no goodbye)."""

from __future__ import annotations

import psutil


def listener_pid(port: int, host: str | None = None) -> int:
    """The process listening on port (on host, when given; gRPC's dual-stack sockets show ::ffff:host)."""
    for conn in psutil.net_connections("tcp"):
        if not (conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid):
            continue
        if host is None or conn.laddr.ip.removeprefix("::ffff:") == host:
            return conn.pid
    raise LookupError(f"nothing listens on {host or '*'}:{port}")


def kill(port: int, host: str | None = None) -> None:
    """SIGKILL the process listening on port (on host, when given) and wait for it to go."""
    process = psutil.Process(listener_pid(port, host))
    process.kill()
    process.wait(10)
