"""Engine-independent streaming recognition for one stream.

The VAD opens an utterance after min_speech_ms of voiced windows; the
utterance's speech ends with its last voiced window (probability at least
speech_threshold), and endpoint_ms after that with no voiced window in
between closes it. While it is open, the growing audio is re-decoded about
every partial_interval_s (at most one decode in flight per stream, and none
while the workers are busy, so no backlog builds up). The committed transcript
follows LocalAgreement-2: the longest common word prefix of the last two
hypotheses (never a hypothesis' last word); it never shrinks and is forced as
the decoder prefix of every later decode, so the final starts with it. Once
speculate_ms of silence follow the speech (enough to keep a soft word ending)
the final decode starts speculatively, so when the endpoint arrives without
new speech the final is usually ready already. With a turn detector, the same
silence also asks it whether the turn sounds complete: if so, the utterance
closes after turn_endpoint_ms of silence instead of the full endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil

import numpy as np

from stt_server.decoder import DecodePool
from stt_server.engines import SAMPLE_RATE, Engine, Transcript
from stt_server.turn import TurnDetector

log = logging.getLogger(__name__)

THREAD_VAD_WINDOWS = 16
"""Score at least this many VAD windows (0.5 s) in a thread rather than on the event loop."""


@dataclass(frozen=True)
class Tuning:
    """Server-wide streaming parameters."""

    max_utterance_s: float = 15.0
    partial_interval_s: float = 0.5
    speech_threshold: float = 0.5
    min_speech_ms: int = 64
    speculate_ms: int = 64
    preroll_ms: int = 250
    turn_endpoint_ms: int = 0
    """With a turn detector: the silence that closes an utterance whose turn sounds complete (0: off)."""
    turn_threshold: float = 0.5


@dataclass(frozen=True)
class Settings:
    """One stream's validated config."""

    language: str | None
    interim_results: bool
    endpoint_ms: int
    detect: frozenset[str] = frozenset()
    """Languages detection may answer with when language is None (empty: any)."""


@dataclass(frozen=True)
class SpeechStart:
    """Voice activity began at offset (samples at 16 kHz)."""

    utterance: int
    offset: int


@dataclass(frozen=True)
class SpeechEnd:
    """The utterance ended; offset is the end of its speech."""

    utterance: int
    offset: int


@dataclass(frozen=True)
class Result:
    """A partial or final transcript; offsets in samples at 16 kHz."""

    utterance: int
    transcript: str
    stable: str
    is_final: bool
    start: int
    end: int
    language: str
    speculative: bool = False
    """A partial that is the final's own decode: it becomes the final unless speech resumes."""


Event = SpeechStart | SpeechEnd | Result


def _key(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def agreement(previous: list[str], current: list[str]) -> int:
    """Length of the longest common word prefix, ignoring case and punctuation."""
    n = 0
    for a, b in zip(previous, current, strict=False):
        if _key(a) != _key(b):
            break
        n += 1
    return n


class _Utterance:
    """The audio and transcript state of the open utterance."""

    def __init__(self, uid: int, start: int, audio: list[np.ndarray], language: str | None) -> None:
        self.id = uid
        self.start = start
        self.speech_end = start
        self.chunks = audio
        self.samples = sum(len(c) for c in audio)
        self.language = language
        self.committed: list[str] = []
        self.previous: list[str] | None = None
        self.partial_at = 0
        self.final: asyncio.Future[Transcript] | None = None
        self.turn: asyncio.Future[float] | None = None
        """The turn detector's answer for the current silence."""

    def turn_complete(self, threshold: float) -> bool:
        """Whether the detector has answered, for this silence, that the turn is complete."""
        turn = self.turn
        return turn is not None and turn.done() and not turn.cancelled() and turn.result() >= threshold

    def append(self, samples: np.ndarray) -> None:
        self.chunks.append(samples)
        self.samples += len(samples)

    def audio(self) -> np.ndarray:
        if len(self.chunks) != 1:
            self.chunks = [np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.float32)]
        return self.chunks[0]


class Session:
    """Turns one stream's 16 kHz audio into events, through emit."""

    def __init__(
        self,
        engine: Engine,
        pool: DecodePool,
        settings: Settings,
        tuning: Tuning,
        emit: Callable[[Event], None],
        turn: TurnDetector | None = None,
    ) -> None:
        self._vad = engine.new_vad()
        self._pool = pool
        self._settings = settings
        self._tuning = tuning
        self._emit = emit
        self._window = self._vad.window
        self._min_voiced = max(1, ceil(tuning.min_speech_ms * SAMPLE_RATE / 1000 / self._window))
        self._preroll: deque[np.ndarray] = deque(
            maxlen=ceil(tuning.preroll_ms * SAMPLE_RATE / 1000 / self._window) + self._min_voiced
        )
        self._endpoint = settings.endpoint_ms * SAMPLE_RATE // 1000
        self._speculate = max(1, min(tuning.speculate_ms * SAMPLE_RATE // 1000, self._endpoint))
        self._turn = turn if tuning.turn_endpoint_ms else None
        self._turn_endpoint = max(self._speculate, tuning.turn_endpoint_ms * SAMPLE_RATE // 1000)
        self._max_samples = int(tuning.max_utterance_s * SAMPLE_RATE)
        self._interval = int(tuning.partial_interval_s * SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._pos = 0
        self._voiced_run = 0
        self._utt: _Utterance | None = None
        self._next_id = 1
        self._partial: asyncio.Future[Transcript] | None = None

    async def feed(self, samples: np.ndarray) -> None:
        """Process more audio (16 kHz float32)."""
        buf = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        count = len(buf) // self._window
        self._pending = buf[count * self._window :]
        if count == 0:
            return
        windows = buf[: count * self._window].reshape(count, self._window)
        if count >= THREAD_VAD_WINDOWS:
            probs = await asyncio.to_thread(self._score, windows)
        else:
            probs = self._score(windows)
        for window, prob in zip(windows, probs, strict=True):
            await self._step(window, prob)

    async def close(self) -> None:
        """The client is done: finish the open utterance."""
        if self._utt is not None:
            self._utt.append(self._pending)
            await self._finish()
        self.cancel()

    def cancel(self) -> None:
        """Drop decodes still in flight (the stream is over)."""
        for future in (self._partial, self._utt.final if self._utt else None, self._utt.turn if self._utt else None):
            if future is not None:
                future.cancel()

    def _score(self, windows: np.ndarray) -> list[float]:
        return [self._vad(w) for w in windows]

    async def _step(self, window: np.ndarray, prob: float) -> None:
        self._pos += len(window)
        voiced = prob >= self._tuning.speech_threshold
        utt = self._utt
        if utt is None:
            self._preroll.append(window)
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= self._min_voiced:
                self._open(self._pos - self._voiced_run * self._window, list(self._preroll))
            return
        utt.append(window)
        if voiced:
            utt.speech_end = self._pos
            if utt.final is not None:  # speech resumed: the speculative final is stale
                utt.final.cancel()
                utt.final = None
            if utt.turn is not None:
                utt.turn.cancel()
                utt.turn = None
        silence = self._pos - utt.speech_end
        if silence >= self._speculate and utt.final is None:
            if self._partial is not None:  # its result would be ignored now; free the worker
                self._partial.cancel()
            utt.final = self._submit(utt, final=True)
            if self._settings.interim_results:
                utt.final.add_done_callback(lambda future: self._on_speculative(utt, future))
            if self._turn is not None:
                utt.turn = self._turn.predict(utt.audio())
        quick = silence >= self._turn_endpoint and utt.turn_complete(self._tuning.turn_threshold)
        if silence >= self._endpoint or quick:
            await self._finish()
        elif self._pos - utt.start >= self._max_samples:
            await self._finish()
            if voiced:
                self._open(self._pos, [])
        elif self._settings.interim_results and voiced:
            self._maybe_partial(utt)

    def _open(self, start: int, audio: list[np.ndarray]) -> None:
        self._utt = _Utterance(self._next_id, start, audio, self._settings.language)
        self._next_id += 1
        self._preroll.clear()
        self._voiced_run = 0
        self._emit(SpeechStart(self._utt.id, start))

    async def _finish(self) -> None:
        utt = self._utt
        assert utt is not None
        self._utt = None
        transcript = await (utt.final or self._submit(utt, final=True))
        self._emit(
            Result(utt.id, transcript.text, transcript.text, True, utt.start, utt.speech_end, transcript.language)
        )
        self._emit(SpeechEnd(utt.id, utt.speech_end))

    def _submit(self, utt: _Utterance, final: bool) -> asyncio.Future[Transcript]:
        return self._pool.submit(utt.audio(), utt.language, " ".join(utt.committed), final, self._settings.detect)

    def _on_speculative(self, utt: _Utterance, future: asyncio.Future[Transcript]) -> None:
        """Announce the speculative final while its utterance is still open and the decode still current."""
        if future.cancelled() or future.exception() is not None or utt is not self._utt or utt.final is not future:
            return
        transcript = future.result()
        self._emit(
            Result(
                utt.id,
                transcript.text,
                " ".join(utt.committed),
                False,
                utt.start,
                utt.speech_end,
                transcript.language,
                speculative=True,
            )
        )

    def _maybe_partial(self, utt: _Utterance) -> None:
        if self._partial is not None or utt.samples - utt.partial_at < self._interval or not self._pool.idle:
            return
        utt.partial_at = utt.samples
        end = utt.speech_end
        future = self._submit(utt, final=False)
        self._partial = future
        future.add_done_callback(lambda f: self._on_partial(utt, end, f))

    def _on_partial(self, utt: _Utterance, end: int, future: asyncio.Future[Transcript]) -> None:
        if self._partial is future:
            self._partial = None
        if future.cancelled() or future.exception() is not None:
            return
        if utt is not self._utt or utt.final is not None:
            return  # the utterance is over, or its final decode has its prefix already
        transcript = future.result()
        words = transcript.text.split()
        if words[: len(utt.committed)] != utt.committed:
            return
        if utt.previous is not None:
            agreed = min(agreement(utt.previous, words), len(words) - 1)
            if agreed > len(utt.committed):
                utt.committed = words[:agreed]
                utt.language = utt.language or transcript.language
        utt.previous = words
        text, stable = " ".join(words), " ".join(utt.committed)
        self._emit(Result(utt.id, text, stable, False, utt.start, end, transcript.language))
