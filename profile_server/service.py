"""VoiceProfileService: validation, enrollment streams, paging and comparisons."""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from common.audio import check_format, pcm16, resample, to_float, to_pcm16
from common.errors import FailedPrecondition, InvalidArgument, handle_errors
from common.languages import base_language
from common.streams import split_config
from lingua.audio.v1 import audio_pb2
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc
from profile_server.engines import Embedder, Embedding, combine, compare
from profile_server.engines.prosody import pitch_median_hz
from profile_server.store import ID_PATTERN, Profile, ProfileStore, check_id

RATE = 16000
MIN_SAMPLES = 3
MAX_SAMPLES = 32
MIN_SAMPLE_SPEECH_S = 1.0
"""Each enrollment sample needs this much speech (by Silero VAD), so an enrollment has at least 3 s."""
MIN_EMBED_SPEECH_S = 0.5
"""Audio to embed or compare needs this much speech."""
MAX_AUDIO_SECONDS = 600.0
"""Longest audio one Embed or Compare operand, or one whole enrollment, may hold."""
MAX_DISPLAY_NAME = 200
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class _Voice:
    """A resolved comparison operand."""

    vector: np.ndarray
    embedder: str
    speaker_dim: int
    label: str


def _decode(content: bytes, rate: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """LINEAR16 bytes at rate -> (float32 at 16 kHz, int16 at 16 kHz)."""
    if not content:
        raise InvalidArgument(f"{what} is empty")
    try:
        samples = pcm16(content)
    except InvalidArgument as err:
        raise InvalidArgument(f"{what}: {err}") from None
    if rate == RATE:
        return to_float(samples), samples
    audio = resample(to_float(samples), rate, RATE)
    return audio, np.frombuffer(to_pcm16(audio), dtype="<i2")


def _page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _after(token: str) -> str:
    """The last id of the previous page, from its token."""
    if not token:
        return ""
    try:
        last = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        last = ""
    if not ID_PATTERN.fullmatch(last):
        raise InvalidArgument(f"invalid page_token {token!r}: pass the next_page_token of a previous response")
    return last


def _to_proto(profile: Profile, speaker_dim: int) -> profile_pb2.VoiceProfile:
    create_time = Timestamp()
    create_time.FromDatetime(profile.create_time)
    message = profile_pb2.VoiceProfile(
        profile_id=profile.profile_id,
        display_name=profile.display_name,
        language_code=profile.language_code,
        embedder=profile.embedder,
        version=profile.version,
        sample_count=profile.sample_count,
        speech_seconds=profile.speech_seconds,
        create_time=create_time,
    )
    if profile.embedding is not None:
        message.embedding.extend(profile.embedding.tolist())
        message.pitch_median_hertz = pitch_median_hz(profile.embedding[speaker_dim:])
    return message


class VoiceProfileServicer(profile_pb2_grpc.VoiceProfileServiceServicer):
    """Enrolls, stores, embeds and compares voices; model calls run on executor."""

    def __init__(self, embedder: Embedder, store: ProfileStore, executor: Executor) -> None:
        self.embedder = embedder
        self.store = store
        self.executor = executor

    async def _embed(self, audio: np.ndarray) -> Embedding:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.embedder.embed, audio)

    async def _embed_input(self, audio_input: audio_pb2.AudioInput, what: str) -> Embedding:
        if not audio_input.HasField("format"):
            raise InvalidArgument(f"{what}.format is required (LINEAR16 and its sample_rate_hertz)")
        try:
            rate = check_format(audio_input.format)
        except InvalidArgument as err:
            raise InvalidArgument(f"{what}: {err}") from None
        audio, _ = _decode(audio_input.content, rate, f"{what}.content")
        if len(audio) > MAX_AUDIO_SECONDS * RATE:
            raise InvalidArgument(f"{what} is {len(audio) / RATE:.0f} s long; at most {MAX_AUDIO_SECONDS:.0f} s")
        embedding = await self._embed(audio)
        if embedding.speech_seconds < MIN_EMBED_SPEECH_S:
            raise InvalidArgument(
                f"{what} has {embedding.speech_seconds:.2f} s of speech; "
                f"at least {MIN_EMBED_SPEECH_S} s of someone speaking is needed (silence and noise do not count)"
            )
        return embedding

    @handle_errors
    async def Enroll(
        self, request_iterator: AsyncIterator[profile_pb2.EnrollRequest], context: grpc.aio.ServicerContext
    ) -> profile_pb2.EnrollResponse:
        """Metadata, then 3 or more whole samples of one speaker -> a stored profile."""
        metadata, samples = await split_config(request_iterator, "request", "metadata")
        profile_id = check_id(metadata.profile_id) if metadata.profile_id else uuid.uuid4().hex
        if len(metadata.display_name) > MAX_DISPLAY_NAME:
            raise InvalidArgument(
                f"display_name is {len(metadata.display_name)} characters; at most {MAX_DISPLAY_NAME}"
            )
        language = metadata.language_code.strip()
        if language:
            base_language(language)
        if not metadata.HasField("format"):
            raise InvalidArgument("metadata.format is required (LINEAR16 and its sample_rate_hertz)")
        try:
            rate = check_format(metadata.format)
        except InvalidArgument as err:
            raise InvalidArgument(f"metadata.format: {err}") from None

        pending: list[asyncio.Future[Embedding]] = []
        audio: list[np.ndarray] = []
        total = 0
        try:
            async for _, content in samples:
                number = len(pending) + 1
                if number > MAX_SAMPLES:
                    raise InvalidArgument(f"too many samples; at most {MAX_SAMPLES}")
                floats, ints = _decode(content, rate, f"sample {number}")
                total += len(ints)
                if total > MAX_AUDIO_SECONDS * RATE:
                    raise InvalidArgument(f"enrollment audio exceeds {MAX_AUDIO_SECONDS:.0f} s")
                audio.append(ints)
                pending.append(asyncio.ensure_future(self._embed(floats)))
            if len(pending) < MIN_SAMPLES:
                raise InvalidArgument(
                    f"got {len(pending)} sample(s); enrollment needs at least {MIN_SAMPLES} recordings of the speaker"
                )
            embeddings = await asyncio.gather(*pending)
        finally:
            for future in pending:
                future.cancel()
        for number, embedding in enumerate(embeddings, 1):
            if embedding.speech_seconds < MIN_SAMPLE_SPEECH_S:
                raise InvalidArgument(
                    f"sample {number} has {embedding.speech_seconds:.2f} s of speech; record at least "
                    f"{MIN_SAMPLE_SPEECH_S} s of the speaker talking in each sample (silence and noise do not count)"
                )

        profile = Profile(
            profile_id=profile_id,
            display_name=metadata.display_name,
            language_code=language,
            embedder=self.embedder.name,
            dim=self.embedder.dim,
            speaker_dim=self.embedder.speaker_dim,
            sample_count=len(embeddings),
            speech_seconds=round(sum(e.speech_seconds for e in embeddings), 3),
            create_time=datetime.now(UTC),
            embedding=combine([e.vector for e in embeddings], self.embedder.speaker_dim),
        )
        await asyncio.to_thread(self.store.put, profile, audio)
        return profile_pb2.EnrollResponse(profile=_to_proto(profile, self.embedder.speaker_dim))

    @handle_errors
    async def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: grpc.aio.ServicerContext
    ) -> profile_pb2.GetProfileResponse:
        """One profile with its embedding."""
        profile = await asyncio.to_thread(self.store.get, request.profile_id)
        return profile_pb2.GetProfileResponse(profile=_to_proto(profile, self.embedder.speaker_dim))

    @handle_errors
    async def ListProfiles(
        self, request: profile_pb2.ListProfilesRequest, context: grpc.aio.ServicerContext
    ) -> profile_pb2.ListProfilesResponse:
        """One page of profiles ordered by id, without embeddings."""
        if request.page_size < 0:
            raise InvalidArgument(f"page_size must not be negative, got {request.page_size}")
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        profiles, last = await asyncio.to_thread(self.store.page, _after(request.page_token), size)
        return profile_pb2.ListProfilesResponse(
            profiles=[_to_proto(p, self.embedder.speaker_dim) for p in profiles],
            next_page_token=_page_token(last) if last else "",
        )

    @handle_errors
    async def GetEnrollmentAudio(
        self, request: profile_pb2.GetEnrollmentAudioRequest, context: grpc.aio.ServicerContext
    ) -> profile_pb2.GetEnrollmentAudioResponse:
        """A profile's enrollment samples as 16 kHz LINEAR16, and its create time."""
        profile, samples = await asyncio.to_thread(self.store.enrollment, request.profile_id)
        fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE)
        return profile_pb2.GetEnrollmentAudioResponse(
            samples=[audio_pb2.AudioInput(format=fmt, content=s.astype("<i2").tobytes()) for s in samples],
            create_time=_to_proto(profile, self.embedder.speaker_dim).create_time,
        )

    @handle_errors
    async def DeleteProfile(
        self, request: profile_pb2.DeleteProfileRequest, context: grpc.aio.ServicerContext
    ) -> profile_pb2.DeleteProfileResponse:
        """Remove a profile, its files and the caches other servers made from it in the shared state folder."""
        await asyncio.to_thread(self.store.delete, request.profile_id)
        return profile_pb2.DeleteProfileResponse()

    @handle_errors
    async def Embed(
        self, request: profile_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> profile_pb2.EmbedResponse:
        """The embedding of a piece of audio."""
        if not request.HasField("audio"):
            raise InvalidArgument("audio is required")
        embedding = await self._embed_input(request.audio, "audio")
        return profile_pb2.EmbedResponse(
            embedding=embedding.vector.tolist(),
            embedder=self.embedder.name,
            speech_seconds=embedding.speech_seconds,
            pitch_median_hertz=pitch_median_hz(embedding.vector[self.embedder.speaker_dim :]),
        )

    async def _voice(self, operand: profile_pb2.CompareOperand, what: str) -> _Voice:
        kind = operand.WhichOneof("operand")
        if kind == "profile_id":
            profile = await asyncio.to_thread(self.store.get, operand.profile_id)
            assert profile.embedding is not None
            return _Voice(profile.embedding, profile.embedder, profile.speaker_dim, f"profile {profile.profile_id!r}")
        if kind == "audio":
            embedding = await self._embed_input(operand.audio, f"{what}.audio")
            return _Voice(embedding.vector, self.embedder.name, self.embedder.speaker_dim, f"{what}.audio")
        raise InvalidArgument(f"{what} is required: set its profile_id or its audio")

    @handle_errors
    async def Compare(
        self, request: profile_pb2.CompareRequest, context: grpc.aio.ServicerContext
    ) -> profile_pb2.CompareResponse:
        """Cosine similarities of two voices (profiles or audio)."""
        results = await asyncio.gather(
            self._voice(request.first, "first"), self._voice(request.second, "second"), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        first, second = cast(list[_Voice], results)
        if (first.embedder, first.speaker_dim, len(first.vector)) != (
            second.embedder,
            second.speaker_dim,
            len(second.vector),
        ):
            raise FailedPrecondition(
                f"cannot compare voices from different embedders: {first.label} is {first.embedder!r}, "
                f"{second.label} is {second.embedder!r}; re-enroll the profile with this server's embedder "
                f"{self.embedder.name!r}"
            )
        similarity = compare(first.vector, second.vector, first.speaker_dim)
        return profile_pb2.CompareResponse(
            similarity=similarity.overall,
            speaker_similarity=similarity.speaker,
            prosody_similarity=similarity.prosody,
        )
