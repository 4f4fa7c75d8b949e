"""Apertium rule-based MT through a warm, supervised apertium-apy HTTP server on loopback."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from common.errors import Unavailable
from common.languages import ISO639_1
from mt_server.engines.base import NO_HINTS, Hints, translate_every_pair

log = logging.getLogger(__name__)

LAUNCHER = Path(__file__).with_name("apy_launcher.py")

Call = Callable[[str, dict[str, str]], Any]
"""Sends one request to apy: (path, form fields) -> decoded JSON."""

_MARK = re.compile(r"(?<![\w*#@])[*#@](\w+)")
"""Apertium's unknown (*), generation-error (#) and transfer-error (@) word marks."""

_APY_LEVELS = {"[I ": logging.DEBUG, "[D ": logging.DEBUG, "[W ": logging.INFO}
"""Log level for apy's (tornado's) line prefixes."""


def strip_marks(translated: str, source: str) -> str:
    """Drop Apertium word marks, keeping any marked word the source already had."""
    return _MARK.sub(lambda m: m.group(0) if m.group(0) in source else m.group(1), translated)


class ApyError(RuntimeError):
    """apertium-apy answered with an HTTP error."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"apertium-apy HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
        self.status = status


class _Pool:
    """Keep-alive HTTP connections to one apy port, shared by worker threads."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self._timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(self, path: str, fields: dict[str, str]) -> Any:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self._timeout)
        try:
            conn.request(
                "POST",
                path,
                urllib.parse.urlencode(fields),
                {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            )
            response = conn.getresponse()
            body = response.read()
        except BaseException:
            conn.close()
            raise
        with self._lock:
            keep = not (response.will_close or self._closed)
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()
        if response.status != 200:
            raise ApyError(response.status, body)
        return json.loads(body)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApyServer:
    """apertium-apy as a child process on a free loopback port, restarted with backoff if it dies.

    After each (re)start the supervisor thread calls on_start before requests
    are let through (to list pairs), then warm once they are (to start pipelines).
    A crash after a stable run restarts at once; repeated early crashes back off.
    """

    MIN_BACKOFF = 0.5
    MAX_BACKOFF = 30.0
    STABLE_AFTER = 10.0

    def __init__(
        self,
        python: str,
        modes: str,
        on_start: Callable[[Call], None],
        warm: Callable[[Call], None],
        *,
        wait: float = 5.0,
        start_timeout: float = 60.0,
        request_timeout: float = 15.0,
    ) -> None:
        self._python = python
        self._modes = modes
        self._on_start = on_start
        self._warm = warm
        self._wait = wait
        self._start_timeout = start_timeout
        self._request_timeout = request_timeout
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._pool: _Pool | None = None
        self._thread = threading.Thread(target=self._supervise, name="apy-supervisor", daemon=True)
        self._first_error: Exception | None = None

    def start(self) -> None:
        """Start supervising and wait for the first apy to be ready."""
        if shutil.which(self._python) is None:
            raise RuntimeError(f"cannot run apertium-apy: no Python interpreter at {self._python}")
        if not Path(self._modes).is_dir():
            raise RuntimeError(f"no Apertium modes folder at {self._modes} (install apertium language pairs)")
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._ready.wait(0.1):
            if self._first_error is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"apertium-apy did not start: {self._first_error or 'timed out'}")

    def stop(self) -> None:
        """Stop supervising and terminate apy."""
        self._stopping.set()
        self._ready.clear()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread.is_alive():
            self._thread.join(10)
        if self._pool is not None:
            self._pool.close()

    def request(self, path: str, fields: dict[str, str]) -> Any:
        """POST to apy, waiting up to `wait` seconds for a (re)start; Unavailable if it stays down."""
        deadline = time.monotonic() + self._wait
        while True:
            pool = self._pool
            if not self._ready.is_set() or pool is None:
                if self._stopping.is_set() or not self._ready.wait(max(0.0, deadline - time.monotonic())):
                    raise Unavailable("the Apertium backend (apertium-apy) is restarting; retry shortly")
                continue
            try:
                return pool.request(path, fields)
            except ApyError as err:
                if err.status == 503:
                    raise Unavailable(f"the Apertium backend is overloaded or stuck ({err}); retry shortly") from err
                raise
            except (OSError, http.client.HTTPException) as err:
                # A stale keep-alive connection or an apy that just died: retry until the deadline.
                if time.monotonic() >= deadline:
                    raise Unavailable(f"the Apertium backend (apertium-apy) is not answering: {err}") from err
                time.sleep(0.05)

    def _supervise(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                self._run_once()
            except Exception as err:
                if self._pool is None:  # never started: let start() fail
                    self._first_error = err
                    return
                log.exception("apertium-apy failed")
            self._ready.clear()
            if self._stopping.is_set():
                return
            stable = time.monotonic() - began > self.STABLE_AFTER
            backoff = 0.0 if stable else min(max(backoff * 2, self.MIN_BACKOFF), self.MAX_BACKOFF)
            log.warning("restarting apertium-apy in %.1f s", backoff)
            self._stopping.wait(backoff)

    def _run_once(self) -> None:
        port = _free_port()
        command = [self._python, str(LAUNCHER), str(os.getpid()), "-p", str(port), self._modes]
        with self._lock:
            if self._stopping.is_set():
                return
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env={**os.environ, "LC_ALL": "C.UTF-8"},
                start_new_session=True,  # Ctrl-C or a group kill stops the server first, which then stops apy
            )
            self._proc = proc
        assert proc.stdout is not None
        threading.Thread(target=_pump, args=(proc.stdout, proc.pid), name="apy-log", daemon=True).start()
        pool = _Pool(port, self._request_timeout)
        try:
            began = time.monotonic()
            self._await_listening(proc, pool)
            self._on_start(pool.request)
            self._pool = pool
            self._ready.set()
            log.info("apertium-apy pid %d ready on 127.0.0.1:%d in %.1f s", proc.pid, port, time.monotonic() - began)
            try:
                self._warm(pool.request)
            except (OSError, http.client.HTTPException, ApyError) as err:
                if not self._stopping.is_set():
                    log.warning("warming apertium-apy pipelines failed: %s", err)
            code = proc.wait()
            if not self._stopping.is_set():
                log.warning("apertium-apy pid %d exited with status %d", proc.pid, code)
        finally:
            self._ready.clear()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            pool.close()

    def _await_listening(self, proc: subprocess.Popen[str], pool: _Pool) -> None:
        deadline = time.monotonic() + self._start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"apertium-apy exited with status {proc.returncode} while starting")
            try:
                pool.request("/listPairs", {})
                return
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline or self._stopping.is_set():
                    raise RuntimeError("apertium-apy did not start listening") from None
                time.sleep(0.1)


def _pump(stream: IO[str], pid: int) -> None:
    """Forward apy's output: its info lines at debug level, its warnings as info, anything else as a warning."""
    for line in stream:
        text = line.rstrip()
        log.log(_APY_LEVELS.get(text[:3], logging.WARNING), "apy[%d] %s", pid, text)


class ApertiumTranslator:
    """Translator for every installed Apertium pair (regional variants such as por_BR are skipped)."""

    name = "apertium"
    native_glossary = False

    def __init__(
        self,
        python: str = "/usr/bin/python3",
        modes: str = "/usr/share/apertium/modes",
        *,
        wait: float = 5.0,
        start_timeout: float = 60.0,
    ) -> None:
        self._codes: dict[tuple[str, str], tuple[str, str]] = {}
        self.server = ApyServer(python, modes, self._list_pairs, self._warm, wait=wait, start_timeout=start_timeout)
        self.server.start()

    def _list_pairs(self, call: Call) -> None:
        codes: dict[tuple[str, str], tuple[str, str]] = {}
        for item in call("/listPairs", {})["responseData"]:
            src, tgt = item["sourceLanguage"], item["targetLanguage"]
            if "_" not in src and "_" not in tgt:
                codes[ISO639_1.get(src, src), ISO639_1.get(tgt, tgt)] = (src, tgt)
        self._codes = codes

    def _warm(self, call: Call) -> None:
        """Start apy's pipeline for every pair (the first request on a pair pays ~150 ms otherwise)."""
        for src, tgt in self._codes.values():
            call("/translate", _fields("Hello.", src, tgt))

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._codes)

    def pair_label(self, source: str, target: str) -> str:
        return "-".join(self._codes[source, target])

    def translate(self, text: str, source: str, target: str, hints: Hints = NO_HINTS) -> str:
        src, tgt = self._codes[source, target]
        translated: str = self.server.request("/translate", _fields(text, src, tgt))["responseData"]["translatedText"]
        return strip_marks(translated, text)

    def warm_up(self) -> None:
        translate_every_pair(self)

    def close(self) -> None:
        self.server.stop()


def _fields(text: str, src: str, tgt: str) -> dict[str, str]:
    return {"langpair": f"{src}|{tgt}", "q": text, "markUnknown": "no", "format": "txt"}
