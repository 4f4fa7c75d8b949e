"""Run apertium-apy bound to 127.0.0.1 only, exiting when its parent does.

mt_server starts this file with the system Python (where Debian installs
apertium_apy and tornado): `python3 apy_launcher.py PARENT_PID APY_ARGS...`.
"""

import ctypes
import os
import signal
import sys

import tornado.httpserver

PR_SET_PDEATHSIG = 1


def main() -> None:
    """Arrange SIGTERM on parent death, pin the bind address, run apy's main."""
    parent = int(sys.argv[1])
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit("apy_launcher: parent already gone")
    bind = tornado.httpserver.HTTPServer.bind

    def loopback_bind(self, port, address=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        return bind(self, port, "127.0.0.1", *args, **kwargs)

    tornado.httpserver.HTTPServer.bind = loopback_bind  # type: ignore[method-assign]
    sys.argv = ["apertium-apy", *sys.argv[2:]]
    from apertium_apy import apy  # after sys.argv is set: apy reads it at import time

    apy.main()


if __name__ == "__main__":
    main()
