"""The two frame-level tiers: InputBuffer (jitter buffer) and PlaybackQueue (mixer).

Everything here runs on the 20 ms tick, so it allocates little and never blocks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RATE = 16000
FRAME_SAMPLES = 320
FRAME_BYTES = FRAME_SAMPLES * 2
SILENCE = bytes(FRAME_BYTES)


class Reframer:
    """Cuts a byte stream into whole 640-byte frames."""

    def __init__(self) -> None:
        self._pending = b""

    def split(self, data: bytes) -> list[bytes]:
        """Add data; return the whole frames now available."""
        buf = self._pending + data if self._pending else data
        cut = len(buf) - len(buf) % FRAME_BYTES
        self._pending = buf[cut:]
        return [buf[i : i + FRAME_BYTES] for i in range(0, cut, FRAME_BYTES)]


class InputBuffer:
    """Jitter buffer for one participant's incoming frames.

    The network side puts frames as they arrive; the tick takes one per 20 ms.
    It waits for `prefill` frames before releasing any (and again after running
    dry), and holds at most `capacity`: on overflow the oldest frame is dropped
    and counted, which bounds the delay a burst can add.
    """

    def __init__(self, capacity: int = 50, prefill: int = 2) -> None:
        self.capacity = capacity
        self.prefill = prefill
        self.overflow = 0
        self._frames: deque[bytes] = deque()
        self._reframer = Reframer()
        self._flowing = False

    def put(self, data: bytes) -> int:
        """Add audio (any whole number of samples); return frames dropped by overflow."""
        dropped = 0
        for frame in self._reframer.split(data):
            if len(self._frames) >= self.capacity:
                self._frames.popleft()
                dropped += 1
            self._frames.append(frame)
        self.overflow += dropped
        return dropped

    def take(self) -> bytes | None:
        """The next frame, or None while priming or empty."""
        if not self._flowing:
            if len(self._frames) < self.prefill:
                return None
            self._flowing = True
        if not self._frames:
            self._flowing = False
            return None
        return self._frames.popleft()

    def __len__(self) -> int:
        return len(self._frames)


Mark = Callable[[bool], None]
"""Called when its place in a queue is played out (True) or dropped as stale (False)."""


class Tempo(float):
    """Sits before frames in a queue: the speaking rate they were made at (hurry caps on it)."""


Item = bytes | Mark | Tempo


@dataclass
class Snapshot:
    """What one source had queued at one moment, to be replaced by a hurried copy (`PlaybackQueue.replace`)."""

    source: str
    items: list[Item]
    popped: int
    generation: int
    tempo: float
    """The rate of the frames at the head (their Tempo item already played)."""


class PlaybackQueue:
    """What one listener will hear: a frame queue per source, mixed one frame per tick.

    A source is another participant (their original audio, or their speech
    translated for this listener). Sources play in parallel and are summed with
    clipping. Marks sit between frames and are called when the next frame is
    mixed out (or the queue runs dry after them): that is how an utterance's
    first and last translated audio is timed. `drop` discards a source's queued
    audio (stale translation a listener fell too far behind on); `snapshot` and
    `replace` swap queued audio for a faster copy made off the tick.
    """

    def __init__(self, capacity: int = 3000) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._sources: dict[str, deque[Item]] = {}
        self._frames: dict[str, int] = {}
        self._popped: dict[str, int] = {}
        self._generation: dict[str, int] = {}
        self._tempo: dict[str, float] = {}

    def push(self, source: str, frames: list[bytes], mark: Mark | None = None, rate: float | None = None) -> None:
        """Queue whole frames from source; mark is called as the first of them plays; rate is what they were made at."""
        queue = self._sources.setdefault(source, deque())
        if mark is not None:
            queue.append(mark)
        if rate is not None:
            queue.append(Tempo(rate))
        for frame in frames:
            if self._frames.get(source, 0) >= self.capacity:
                self._discard_oldest(source)
            queue.append(frame)
            self._frames[source] = self._frames.get(source, 0) + 1

    def mark(self, source: str, mark: Mark) -> None:
        """Queue a mark after what source has queued: called once that has played."""
        self._sources.setdefault(source, deque()).append(mark)

    def queued_seconds(self, source: str) -> float:
        """Audio from source still to play."""
        return self._frames.get(source, 0) * FRAME_SAMPLES / RATE

    def drop(self, source: str) -> int:
        """Discard what source has queued (its marks are told); return frames dropped."""
        queue = self._sources.get(source)
        dropped = self._frames.pop(source, 0)
        self._changed(source)
        if queue:
            marks = [item for item in queue if _is_mark(item)]
            queue.clear()
            for m in marks:
                m(False)  # type: ignore[operator]
        self.dropped += dropped
        return dropped

    def snapshot(self, source: str) -> Snapshot:
        """What source has queued now, for a replacement made elsewhere."""
        queue = self._sources.get(source, deque())
        popped, generation = self._popped.get(source, 0), self._generation.get(source, 0)
        return Snapshot(source, list(queue), popped, generation, self._tempo.get(source, 1.0))

    def replace(self, snapshot: Snapshot, remade: list[list[Item]], tempo: float) -> bool:
        """Put a remade copy in place of what is left of snapshot's items; False if they were cut since.

        remade holds, for each of snapshot.items, what replaces it (marks kept, in
        order); the entries of items played out since the snapshot are skipped.
        tempo is the new rate of the frames at the head.
        """
        source = snapshot.source
        if snapshot.generation != self._generation.get(source, 0):
            return False
        played = self._popped.get(source, 0) - snapshot.popped
        if played >= len(snapshot.items):
            return False
        queue = self._sources[source]
        newer = list(queue)[len(snapshot.items) - played :]
        queue.clear()
        queue.extend(item for items in remade[played:] for item in items)
        queue.extend(newer)
        self._frames[source] = sum(isinstance(item, bytes) for item in queue)
        tempos = [item for items in remade[:played] for item in items if isinstance(item, Tempo)]
        self._tempo[source] = float(tempos[-1]) if tempos else tempo
        return True

    def _changed(self, source: str) -> None:
        self._generation[source] = self._generation.get(source, 0) + 1

    def _discard_oldest(self, source: str) -> None:
        queue = self._sources[source]
        self._changed(source)
        while queue and not isinstance(queue[0], bytes):
            self._take(source, queue)
        if queue:
            queue.popleft()
            self._frames[source] -= 1
            self.dropped += 1

    def _take(self, source: str, queue: deque[Item]) -> bytes | None:
        """Pop the head: a frame is returned, a mark called (played), a tempo noted."""
        item = queue.popleft()
        self._popped[source] = self._popped.get(source, 0) + 1
        if isinstance(item, Tempo):
            self._tempo[source] = float(item)
        elif isinstance(item, bytes):
            return item
        else:
            item(True)
        return None

    def remove(self, source: str) -> None:
        """Forget a source (it left)."""
        for state in (self._sources, self._frames, self._popped, self._generation, self._tempo):
            state.pop(source, None)

    def depth(self) -> int:
        """Frames queued across sources."""
        return sum(self._frames.values())

    def mix(self) -> bytes | None:
        """One mixed frame from every source with audio, or None if all are empty."""
        frames: list[bytes] = []
        for source, queue in self._sources.items():
            while queue:
                frame = self._take(source, queue)
                if frame is not None:
                    frames.append(frame)
                    self._frames[source] -= 1
                    break
        if not frames:
            return None
        if len(frames) == 1:
            return frames[0]
        total = np.zeros(FRAME_SAMPLES, dtype=np.int32)
        for frame in frames:
            total += np.frombuffer(frame, dtype="<i2")
        return np.clip(total, -32768, 32767).astype("<i2").tobytes()


def _is_mark(item: Item) -> bool:
    return not isinstance(item, bytes | Tempo)
