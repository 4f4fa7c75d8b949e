"""Worker threads that run the shared recognizer off the event loop, finals first."""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from stt_server.engines import SAMPLE_RATE, Recognizer, Transcript

log = logging.getLogger(__name__)

FINAL, PARTIAL, STOP = 0, 1, 2  # queue priorities: a waiting final runs before any partial


@dataclass
class _Job:
    audio: np.ndarray
    language: str | None
    allowed: frozenset[str]
    prefix: str
    final: bool
    future: asyncio.Future[Transcript]
    loop: asyncio.AbstractEventLoop
    queued: float


class DecodePool:
    """A priority queue of decodes served by recognizer.workers threads."""

    def __init__(self, recognizer: Recognizer) -> None:
        self._recognizer = recognizer
        self._queue: queue.PriorityQueue[tuple[int, int, _Job | None]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._idle = recognizer.workers
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"decode-{i}", daemon=True) for i in range(recognizer.workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def idle(self) -> bool:
        """Whether a worker is free and nothing is waiting (a partial would start now)."""
        with self._lock:
            return self._idle > 0 and self._queue.empty()

    def submit(
        self, audio: np.ndarray, language: str | None, prefix: str, final: bool, allowed: frozenset[str] = frozenset()
    ) -> asyncio.Future[Transcript]:
        """Queue a decode now (language None: detect among allowed); the future resolves on the calling loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Transcript] = loop.create_future()
        job = _Job(audio, language, allowed, prefix, final, future, loop, time.perf_counter())
        self._queue.put((FINAL if final else PARTIAL, next(self._seq), job))
        return future

    def _work(self) -> None:
        while (job := self._queue.get()[2]) is not None:
            if job.future.cancelled():
                continue
            with self._lock:
                self._idle -= 1
            started = time.perf_counter()
            try:
                result = self._recognizer.decode(
                    job.audio, job.language, job.prefix, job.final, job.future.cancelled, job.allowed
                )
                log.debug(
                    "%s%s decode of %.2f s: waited %.0f ms, ran %.0f ms",
                    "final" if job.final else "partial",
                    "" if result else " (abandoned)",
                    len(job.audio) / SAMPLE_RATE,
                    1000 * (started - job.queued),
                    1000 * (time.perf_counter() - started),
                )
            except Exception as err:  # handed to the awaiting stream, which fails with it
                log.exception("decode failed")
                job.loop.call_soon_threadsafe(_settle, job.future, None, err)
            else:
                job.loop.call_soon_threadsafe(_settle, job.future, result, None)
            finally:
                with self._lock:
                    self._idle += 1

    def close(self) -> None:
        """Stop the workers after the decodes already queued."""
        for _ in self._threads:
            self._queue.put((STOP, next(self._seq), None))
        for thread in self._threads:
            thread.join()


def _settle(future: asyncio.Future[Transcript], result: Transcript | None, err: Exception | None) -> None:
    if future.done():
        return
    if err is not None:
        future.set_exception(err)
    elif result is None:
        future.cancel()
    else:
        future.set_result(result)
