"""A blocking Conference.Join participant for tests and demos: speaks a script, records what it hears."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import grpc
import numpy as np

from clients.speech import channel
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc

FRAME_BYTES = 640


class Participant:
    """Joins over gRPC, sends 20 ms frames in real time (script, then silence), records what comes back."""

    def __init__(
        self, address: str, name: str, language: str, profile_id: str = "", conference: str = "", pin: str = ""
    ) -> None:
        self.config = conference_pb2.JoinConfig(
            display_name=name, language_code=language, voice_profile_id=profile_id, conference=conference, pin=pin
        )
        self._channel = channel(address)
        self._script: queue.Queue[bytes] = queue.Queue()
        self._stop = threading.Event()
        self.participant_id = ""
        self.heard: list[bytes] = []
        self.heard_at: list[float] = []
        self.captions: list[conference_pb2.Caption] = []
        self.statuses: list[conference_pb2.StageStatus] = []
        self.speech_sent_at: list[tuple[float, float]] = []
        self.error: grpc.RpcError | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def say(self, pcm: bytes) -> None:
        """Queue 16 kHz LINEAR16 speech; it is sent in real time after what is already queued."""
        self._script.put(pcm)

    def _frames(self) -> Iterator[conference_pb2.JoinRequest]:
        yield conference_pb2.JoinRequest(config=self.config)
        start = time.perf_counter()
        sent = 0
        pending = b""
        while not self._stop.is_set():
            if not pending:
                try:
                    pending = self._script.get_nowait()
                    begin = start + sent * 0.02
                    self.speech_sent_at.append((begin, begin + len(pending) / 32000))
                except queue.Empty:
                    pending = b""
            frame, pending = (pending[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0"), pending[FRAME_BYTES:])
            delay = start + sent * 0.02 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent += 1
            yield conference_pb2.JoinRequest(audio=frame)

    def _run(self) -> None:
        stub = conference_pb2_grpc.ConferenceServiceStub(self._channel)
        try:
            for response in stub.Join(self._frames()):
                kind = response.WhichOneof("response")
                if kind == "joined":
                    self.participant_id = response.joined.participant_id
                elif kind == "audio":
                    self.heard.append(response.audio)
                    self.heard_at.append(time.perf_counter())
                elif kind == "caption":
                    self.captions.append(response.caption)
                elif kind == "stage_status":
                    self.statuses.append(response.stage_status)
        except grpc.RpcError as error:
            if not self._stop.is_set():
                self.error = error

    def idle(self) -> bool:
        """True once everything queued has been said."""
        return self._script.empty()

    def first_sound_after(self, t: float, threshold: float = 500.0) -> float | None:
        """perf_counter time of the first heard frame after t with RMS above threshold."""
        for frame, at in zip(self.heard, self.heard_at, strict=True):
            if at > t and _rms(frame) > threshold:
                return at
        return None

    def recording(self) -> bytes:
        return b"".join(self.heard)

    def leave(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._channel.close()


def _rms(frame: bytes) -> float:
    x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(x * x)))
