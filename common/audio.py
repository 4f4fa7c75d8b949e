"""PCM helpers: validation, conversion, resampling and 20 ms framing."""

from __future__ import annotations

import array
from math import gcd
from pathlib import Path

import numpy as np
from G722 import G722
from scipy.signal import resample_poly

from common.errors import InvalidArgument
from lingua.audio.v1 import audio_pb2

FRAME_MS = 20
SUPPORTED_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


def check_format(fmt: audio_pb2.AudioFormat, default_rate: int | None = None) -> int:
    """Validate an AudioFormat and return its sample rate."""
    if fmt.encoding not in (
        audio_pb2.AUDIO_ENCODING_UNSPECIFIED,
        audio_pb2.AUDIO_ENCODING_LINEAR16,
    ):
        raise InvalidArgument(f"unsupported audio encoding {fmt.encoding}; use AUDIO_ENCODING_LINEAR16")
    rate = fmt.sample_rate_hertz or default_rate
    if rate not in SUPPORTED_RATES:
        raise InvalidArgument(
            f"unsupported sample rate {fmt.sample_rate_hertz} Hz; use one of {', '.join(map(str, SUPPORTED_RATES))}"
        )
    return rate


def pcm16(data: bytes) -> np.ndarray:
    """Decode LINEAR16 bytes to int16 samples; an odd byte count is invalid."""
    if len(data) % 2:
        raise InvalidArgument(f"LINEAR16 audio must have an even byte count, got {len(data)} bytes")
    return np.frombuffer(data, dtype="<i2")


def to_float(samples: np.ndarray) -> np.ndarray:
    """int16 samples to float32 in [-1, 1)."""
    return samples.astype(np.float32) / 32768.0


def to_pcm16(samples: np.ndarray) -> bytes:
    """float samples in [-1, 1] to LINEAR16 bytes, clipped."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample float samples between rates (polyphase)."""
    if src_rate == dst_rate or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    g = gcd(src_rate, dst_rate)
    return resample_poly(samples, dst_rate // g, src_rate // g).astype(np.float32)


def frame_bytes(rate: int) -> int:
    """Bytes in one 20 ms LINEAR16 frame at rate."""
    return rate * FRAME_MS // 1000 * 2


class Framer:
    """Collects LINEAR16 bytes and releases them in whole 20 ms frames."""

    def __init__(self, rate: int) -> None:
        self.frame = frame_bytes(rate)
        self._pending = b""

    def push(self, data: bytes) -> bytes:
        """Add data; return as many whole frames as are ready."""
        buf = self._pending + data
        cut = len(buf) - len(buf) % self.frame
        self._pending = buf[cut:]
        return buf[:cut]

    def flush(self) -> bytes:
        """Return what is left, padded with silence to a whole frame."""
        if not self._pending:
            return b""
        out = self._pending + b"\x00" * (self.frame - len(self._pending))
        self._pending = b""
        return out


def g722_file(path: Path) -> bytes:
    """A raw G.722 file (Asterisk's .g722 sounds) decoded to 16 kHz LINEAR16 bytes."""
    samples: array.array[int] = G722(16000, 64000).decode(path.read_bytes())
    return samples.tobytes()
