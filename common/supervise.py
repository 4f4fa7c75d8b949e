"""A process supervisor for one server: `python -m common.supervise [--port N] MODULE [ARGS...]`.

Runs `python -m MODULE --port N ARGS...` and starts it again whenever it exits
(a crash, a SIGKILL, an out-of-memory kill), after a capped backoff, on the same
port, so clients reconnect to the same address. Port 0 picks a free port once,
before the first start. SIGTERM or SIGINT is passed to the server, which drains
and exits; the supervisor then exits with its status. This is what systemd's
`Restart=always` or a Kubernetes kubelet does for a deployment; it is here for
local runs and for the fault tests.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

from common.ports import free_port

log = logging.getLogger("supervise")

STEADY_S = 30.0
"""A server that ran this long is restarted at once again, not after the backoff it had reached."""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m common.supervise", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="the server's port, kept across restarts (0: a free one)")
    parser.add_argument("--max-backoff", type=float, default=5.0, help="longest wait before a restart, seconds")
    parser.add_argument("module", help="the server to run, e.g. mt_server")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the server's own flags")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervise %(levelname)s %(message)s")
    port = options.port or free_port()
    command = [sys.executable, "-m", options.module, "--port", str(port), *options.args]
    stopping = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if child and child[0].poll() is None:
            child[0].send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff = 0.1
    starts = 0
    while True:
        started = time.monotonic()
        starts += 1
        child[:] = [subprocess.Popen(command)]
        if starts > 1:
            log.warning("%s restarted on port %d (start %d)", options.module, port, starts)
        code = child[0].wait()
        if stopping.is_set():
            sys.exit(code)
        ran = time.monotonic() - started
        backoff = 0.1 if ran > STEADY_S else min(backoff * 2, options.max_backoff)
        log.error("%s exited with %d after %.1f s; restarting in %.1f s", options.module, code, ran, backoff)
        if stopping.wait(backoff):
            sys.exit(code)


if __name__ == "__main__":
    main()
