"""Blocking Python helpers over the gRPC contracts, for tests, benchmarks and demos."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc

from common.security import open_channel
from lingua.audio.v1 import audio_pb2
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc
from lingua.stt.v1 import stt_pb2, stt_pb2_grpc
from lingua.tts.v1 import tts_pb2, tts_pb2_grpc

FRAME_BYTES = 640  # 20 ms at 16 kHz, 16-bit


def channel(address: str) -> grpc.Channel:
    """A client channel with the servers' 16 MiB message limit (TLS and token from the environment)."""
    limit = 16 * 1024 * 1024
    return open_channel(
        address,
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
    )


def linear16(rate: int = 16000) -> audio_pb2.AudioFormat:
    """An AudioFormat for LINEAR16 at rate."""
    return audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=rate)


@dataclass
class Transcription:
    """What a recognition stream answered, with arrival times."""

    responses: list[stt_pb2.StreamingRecognizeResponse] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    audio_start: float = 0.0
    audio_end: float = 0.0

    @property
    def finals(self) -> list[stt_pb2.RecognitionResult]:
        return [r.result for r in self.responses if r.HasField("result") and r.result.is_final]

    @property
    def text(self) -> str:
        return " ".join(f.transcript for f in self.finals).strip()

    def last_final_at(self) -> float:
        """perf_counter time the last final result arrived."""
        times = [
            at
            for response, at in zip(self.responses, self.arrivals, strict=True)
            if response.HasField("result") and response.result.is_final
        ]
        if not times:
            raise ValueError("no final result")
        return times[-1]


def transcribe(
    address: str,
    pcm: bytes,
    language: str = "",
    *,
    realtime: bool = False,
    interim: bool = False,
    trailing_silence_s: float = 1.0,
    endpoint_ms: int = 0,
) -> Transcription:
    """Stream 16 kHz LINEAR16 audio in 20 ms chunks, then trailing silence.

    With realtime, chunks are paced at 20 ms like a live caller.
    """
    out = Transcription()
    silence = b"\x00" * int(trailing_silence_s * 16000) * 2

    def requests() -> Iterator[stt_pb2.StreamingRecognizeRequest]:
        config = stt_pb2.RecognitionConfig(
            language_code=language, format=linear16(), interim_results=interim, endpoint_silence_ms=endpoint_ms
        )
        yield stt_pb2.StreamingRecognizeRequest(config=config)
        start = out.audio_start = time.perf_counter()
        audio = pcm + silence
        for i in range(0, len(audio), FRAME_BYTES):
            if realtime:
                delay = start + i / 32000 - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            if i >= len(pcm) and not out.audio_end:
                out.audio_end = time.perf_counter()
            yield stt_pb2.StreamingRecognizeRequest(audio=audio[i : i + FRAME_BYTES])
        out.audio_end = out.audio_end or time.perf_counter()

    with channel(address) as ch:
        for response in stt_pb2_grpc.SpeechToTextServiceStub(ch).StreamingRecognize(requests(), timeout=120):
            out.responses.append(response)
            out.arrivals.append(time.perf_counter())
    return out


@dataclass
class Synthesis:
    """Audio from a synthesis stream and when its first chunk came."""

    pcm: bytes
    first_audio_s: float
    voice_name: str
    markers: list[tts_pb2.SegmentMarker]


def synthesize(
    address: str,
    text: str,
    language: str,
    *,
    voice: str = "",
    profile_id: str = "",
    rate: int = 16000,
    speaking_rate: float = 0.0,
) -> Synthesis:
    """Send text and a flush; collect the audio. first_audio_s counts from sending the text."""
    config = tts_pb2.SynthesisConfig(language_code=language, format=linear16(rate), speaking_rate=speaking_rate)
    if voice:
        config.voice_name = voice
    if profile_id:
        config.voice_profile_id = profile_id
    sent: list[float] = []

    def requests() -> Iterator[tts_pb2.StreamingSynthesizeRequest]:
        yield tts_pb2.StreamingSynthesizeRequest(config=config)
        sent.append(time.perf_counter())  # before the yield: a fast server may answer before the next request is asked
        yield tts_pb2.StreamingSynthesizeRequest(text=tts_pb2.TextInput(text=text, segment_id="1"))
        yield tts_pb2.StreamingSynthesizeRequest(flush=tts_pb2.Flush(segment_id="1"))

    chunks: list[bytes] = []
    markers: list[tts_pb2.SegmentMarker] = []
    first = 0.0
    with channel(address) as ch:
        for response in tts_pb2_grpc.TextToSpeechServiceStub(ch).StreamingSynthesize(requests(), timeout=120):
            if response.HasField("audio"):
                if not chunks:
                    first = time.perf_counter() - sent[0]
                chunks.append(response.audio.audio_content)
            else:
                markers.append(response.marker)
    voice_name = next((m.voice_name for m in markers if m.voice_name), "")
    return Synthesis(b"".join(chunks), first, voice_name, markers)


def translate(address: str, text: str, source: str, target: str) -> mt_pb2.TranslateResponse:
    """One unary translation."""
    with channel(address) as ch:
        request = mt_pb2.TranslateRequest(source_language_code=source, target_language_code=target, text=text)
        return mt_pb2_grpc.TranslatorServiceStub(ch).Translate(request, timeout=60)


def enroll(
    address: str, profile_id: str, samples: list[bytes], language: str, name: str = ""
) -> profile_pb2.VoiceProfile:
    """Enroll 16 kHz LINEAR16 samples of one speaker as a voice profile."""
    metadata = profile_pb2.EnrollMetadata(
        profile_id=profile_id, display_name=name or profile_id, language_code=language, format=linear16()
    )
    requests = [profile_pb2.EnrollRequest(metadata=metadata)]
    requests += [profile_pb2.EnrollRequest(sample=s) for s in samples]
    with channel(address) as ch:
        return profile_pb2_grpc.VoiceProfileServiceStub(ch).Enroll(iter(requests), timeout=120).profile
