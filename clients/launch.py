"""Start the project's gRPC servers as real processes on real sockets (tests, benchmarks, demo)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.security import open_channel

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def running(
    module: str,
    *args: str,
    timeout: float = 180.0,
    env: dict[str, str] | None = None,
    capture: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run `python -m module --port 0 args...`; yield its address once it is SERVING.

    The server prints `LISTENING <port>` once bound; its log is echoed to
    stderr with a prefix so failures show what the server said. For each key
    of capture, the first `KEY value` line it prints is awaited too and its
    value stored there (the console's `CONSOLE <url>`, say).
    """
    wanted = capture if capture is not None else {}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert proc.stdout is not None
    port: list[int] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition(" ")
            if key == "LISTENING" and not port:
                port.append(int(value))
            elif key in wanted and not wanted[key]:
                wanted[key] = value
            if port and all(wanted.values()):
                ready.set()
            sys.stderr.write(f"[{module}] {line}")
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(timeout) or not port or not all(wanted.values()):
            missing = ", ".join(k for k, v in {"LISTENING": port, **wanted}.items() if not v)
            raise RuntimeError(f"{module} did not start (exit code {proc.poll()}; never printed {missing})")
        address = f"127.0.0.1:{port[0]}"
        wait_serving(address, deadline=time.monotonic() + timeout)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def failed_start(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 180.0) -> str:
    """Run `python -m module --port 0 args...` expecting it to exit at start; its output. Raises if it exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if result.returncode == 0:
        raise RuntimeError(f"{module} {' '.join(args)} exited 0; expected it to refuse to start")
    return result.stdout + result.stderr


def wait_serving(address: str, deadline: float) -> None:
    """Poll grpc.health.v1 until the server answers SERVING."""
    with open_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{address} never became SERVING")
            time.sleep(0.2)


def asterisk_script(name: str, *args: str, timeout: float = 900) -> str:
    """Run asterisk/<name> (install, start, stop, cli); its output. Raises if it fails."""
    result = subprocess.run([str(REPO / "asterisk" / name), *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"asterisk/{name} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr
