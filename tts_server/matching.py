"""Voice matching: pick the built-in voice nearest to an enrolled speaker profile and move it toward them, or clone it.

Each candidate voice (the engine's measured good voices for a language) is
embedded once by the profile server (its Embed RPC, on a short reference
synthesis) and cached on disk per voice and embedder, with its median pitch. A
profile then gets, among the candidates of the speaker's gender (told by the
profile's median pitch) if there are any, the one whose speaker vector is
nearest by cosine; for blendable (Kokoro) voices, the two or three nearest are
mixed, weighted by similarity. Where the voice's pitch and the speaker's are at
least SHIFT_SEMITONES apart, the voice is shifted toward the speaker: its pitch to
the speaker's median (pitch_median_hertz), and its formants by the same ratio to
the power FORMANT_EXPONENT (adult male and female voices differ by about 0.55 in
F0 and 0.85 in formants, hence log 0.85 / log 0.55), so a woman's synthetic voice
speaking for a man is lowered in pitch and timbre both.
An engine that clones (XTTS) gets the profile's enrollment audio instead, once
per enrollment; when the profile server no longer has a profile, the files
cached from it (common.profile_cache) are removed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
import re
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from common import profile_cache
from common.audio import pcm16, resample, to_float, to_pcm16
from common.errors import FailedPrecondition, InvalidArgument, NotFound, RequestError, Unavailable
from common.paths import write_atomic
from common.security import BALANCED, open_aio_channel
from lingua.audio.v1 import audio_pb2
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc
from tts_server.engines import Cloner, Engine, Voice, VoiceChoice

log = logging.getLogger(__name__)

REFERENCE_TEXT = (
    "Good morning, and thank you all for joining the call today. "
    "We will review the plans for next week, and then take your questions."
)
"""What each voice reads for its embedding (about six seconds of speech)."""
EMBED_RATE = 16000
BLEND_SIZE = 3
"""Most voices mixed into a blend."""
BLEND_MARGIN = 0.1
"""A voice joins the blend only if its similarity is within this of the best."""
TIMEOUT = 30.0
CACHE_VERSION = 2
"""Bumped when a cached voice record changes shape (2: with its median pitch)."""
FORMANT_EXPONENT = math.log(0.85) / math.log(0.55)
SHIFT_SEMITONES = 8.0
"""Smallest pitch distance between voice and speaker that is shifted (bench/voice_shift.py chose it on dev)."""
MALE_BELOW = 160.0
PITCH_RANGE = (0.5, 2.0)
"""Pitch ratios are clamped to this: further than an octave the shifted voice breaks up."""


@dataclass(frozen=True)
class VoicePrint:
    """A voice's embedding by the profile server's embedder, and its median pitch."""

    vector: np.ndarray
    pitch_hz: float


def toward(voice_hz: float, speaker_hz: float, min_semitones: float = 0.0) -> tuple[float, float]:
    """(pitch ratio, formant ratio) moving a voice of median pitch voice_hz toward a speaker's.

    (1, 1) when either pitch is unknown or they are less than min_semitones apart.
    """
    if voice_hz <= 0 or speaker_hz <= 0 or abs(12 * math.log2(speaker_hz / voice_hz)) < min_semitones:
        return 1.0, 1.0
    low, high = PITCH_RANGE
    pitch = min(high, max(low, speaker_hz / voice_hz))
    return pitch, pitch**FORMANT_EXPONENT


def gender(pitch_hz: float) -> str:
    """The likelier gender of an adult voice by its median pitch ("" if unknown).

    MALE_BELOW lies between the usual ranges of men's (85-155 Hz) and women's (165-255 Hz) speech.
    """
    if pitch_hz <= 0:
        return ""
    return "male" if pitch_hz < MALE_BELOW else "female"


def speaker_dim(embedder: str, size: int) -> int:
    """Length of the speaker part of an embedding: "resemblyzer-256+prosody-64/v1" -> 256, else all of it."""
    match = re.match(r"[^+/]*?-(\d+)\+", embedder)
    if match and 0 < int(match.group(1)) <= size:
        return int(match.group(1))
    return 256 if embedder.startswith("resemblyzer") and size > 256 else size


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; 0 when either vector is all zeros."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


class VoiceMatcher:
    """Resolves voice_profile_id to a voice through the profile server."""

    def __init__(
        self, address: str, engine: Engine, executor: Executor, cache: Path, shift: float | None = SHIFT_SEMITONES
    ) -> None:
        """shift: move the chosen voice's pitch and formants toward the speaker when their pitches are at least
        this many semitones apart; None never shifts."""
        self.address = address
        self.engine = engine
        self.executor = executor
        self.cache = cache
        self._channel = open_aio_channel(address, options=BALANCED)
        self._stub = profile_pb2_grpc.VoiceProfileServiceStub(self._channel)
        self.shift = shift
        self._vectors: dict[str, dict[str, VoicePrint]] = {}
        self._references: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the channel to the profile server."""
        await self._channel.close()

    async def choose(self, profile_id: str, language: str) -> VoiceChoice:
        """The profile's cloned voice, or the voice (or Kokoro blend) speaking language that sounds most like it."""
        if isinstance(self.engine, Cloner):
            return VoiceChoice(await self._clone(self.engine, profile_id))
        profile = await self._profile(profile_id)
        if not profile.embedding:
            raise FailedPrecondition(f"voice profile {profile_id!r} has no embedding; re-enroll it")
        vectors = await self.voice_vectors(profile.embedder)
        dim = speaker_dim(profile.embedder, len(profile.embedding))
        target = np.asarray(profile.embedding, dtype=np.float32)[:dim]
        candidates = self.engine.candidates(language)
        same = [v for v in candidates if v.gender and v.gender == gender(profile.pitch_median_hertz)]
        scored = sorted(
            ((cosine(target, vectors[v.name].vector[:dim]), v) for v in same or candidates),
            key=lambda pair: -pair[0],
        )
        if not scored:
            raise InvalidArgument(f"no voice speaks {language!r}")
        best_score, best = scored[0]
        choice = VoiceChoice(best)
        if best.blendable:
            group = [
                (score, voice)
                for score, voice in scored
                if voice.engine == best.engine and voice.blendable and score > 0 and score >= best_score - BLEND_MARGIN
            ][:BLEND_SIZE]
            if len(group) > 1:
                total = sum(score for score, _ in group)
                choice = VoiceChoice(best, tuple((voice, score / total) for score, voice in group))
        if self.shift is not None:
            pitch, formant = toward(vectors[best.name].pitch_hz, profile.pitch_median_hertz, self.shift)
            choice = dataclasses.replace(choice, pitch=pitch, formant=formant)
        log.info(
            "profile %s (%s, %.0f Hz) in %s -> %s, pitch x%.2f, formants x%.2f; nearest: %s",
            profile_id,
            profile.display_name or "unnamed",
            profile.pitch_median_hertz,
            language,
            choice.label,
            choice.pitch,
            choice.formant,
            ", ".join(f"{v.name} {s:.3f}" for s, v in scored[:4]),
        )
        return choice

    async def _clone(self, engine: Cloner, profile_id: str) -> Voice:
        """The engine's clone of the profile; a profile the profile server no longer has loses its cached files."""
        try:
            return await self._cloned(engine, profile_id)
        except NotFound:
            removed = await asyncio.to_thread(profile_cache.purge, profile_id)
            if removed:
                log.info("profile %s is gone: removed %d cached file(s) made from it", profile_id, len(removed))
            raise

    async def _cloned(self, engine: Cloner, profile_id: str) -> Voice:
        """The clone, conditioned on the profile's enrollment audio unless this enrollment already was."""
        loop = asyncio.get_running_loop()
        profile = await self._profile(profile_id)
        voice = await loop.run_in_executor(self.executor, engine.cloned, profile_id, profile.create_time.ToJsonString())
        if voice is not None:
            return voice
        try:
            enrollment = await self._stub.GetEnrollmentAudio(
                profile_pb2.GetEnrollmentAudioRequest(profile_id=profile_id), timeout=TIMEOUT
            )
        except grpc.aio.AioRpcError as err:
            raise self._error(err, f"voice profile {profile_id!r}") from None
        samples = [
            resample(to_float(pcm16(sample.content)), sample.format.sample_rate_hertz or EMBED_RATE, EMBED_RATE)
            for sample in enrollment.samples
        ]
        version = enrollment.create_time.ToJsonString()
        return await loop.run_in_executor(self.executor, engine.clone, profile_id, version, samples, EMBED_RATE)

    async def _profile(self, profile_id: str) -> profile_pb2.VoiceProfile:
        try:
            response = await self._stub.GetProfile(
                profile_pb2.GetProfileRequest(profile_id=profile_id), timeout=TIMEOUT
            )
        except grpc.aio.AioRpcError as err:
            raise self._error(err, f"voice profile {profile_id!r}") from None
        return response.profile

    def _error(self, err: grpc.aio.AioRpcError, what: str) -> RequestError:
        """Map a profile server failure to the status this server answers with."""
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return NotFound(f"{what} not found on the profile server")
        if err.code() == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidArgument(f"{what}: {err.details()}")
        return Unavailable(f"profile server {self.address} failed for {what}: {err.code().name}: {err.details()}")

    def matchable(self) -> list[Voice]:
        """Every voice some language may match a profile to (the engine's candidates), in voice order."""
        languages = {language for voice in self.engine.voices() for language in voice.languages}
        names = {voice.name for language in languages for voice in self.engine.candidates(language)}
        return [voice for voice in self.engine.voices() if voice.name in names]

    async def prefetch(self) -> None:
        """Embed every matchable voice with the profile server's embedder ahead of the first profile request.

        A cloning engine needs no voice embeddings. Retries while the profile server is starting.
        """
        if isinstance(self.engine, Cloner):
            return
        voices = self.matchable()
        for attempt in range(60):
            try:
                embedder = (await self._embed(voices[0]))[0]
                await self.voice_vectors(embedder)
                return
            except Unavailable as err:
                log.debug("profile server not ready (attempt %d): %s", attempt + 1, err)
                await asyncio.sleep(1.0)
            except RequestError as err:
                log.warning("could not embed the voices ahead of time: %s", err)
                return
        log.warning("could not embed the voices ahead of time: profile server %s unavailable", self.address)

    async def voice_vectors(self, embedder: str) -> dict[str, VoicePrint]:
        """Each matchable voice's embedding and pitch by the embedder, from the disk cache or the profile server."""
        async with self._lock:
            if embedder not in self._vectors:
                prints = {}
                for voice in self.matchable():
                    path = self._cache_path(voice, embedder)
                    if path.exists():
                        record = json.loads(path.read_text())
                        prints[voice.name] = VoicePrint(np.asarray(record["embedding"], np.float32), record["pitch_hz"])
                        continue
                    made_by, found = await self._embed(voice)
                    if made_by != embedder:
                        raise FailedPrecondition(
                            f"the profile was made by embedder {embedder!r} but the profile server now embeds "
                            f"with {made_by!r}; re-enroll the profile"
                        )
                    record = {
                        "voice": voice.name,
                        "embedder": embedder,
                        "embedding": found.vector.tolist(),
                        "pitch_hz": found.pitch_hz,
                    }
                    write_atomic(path, json.dumps(record).encode())
                    prints[voice.name] = found
                    log.info("embedded voice %s with %s (median pitch %.0f Hz)", voice.name, embedder, found.pitch_hz)
                self._vectors[embedder] = prints
            return self._vectors[embedder]

    async def _embed(self, voice: Voice) -> tuple[str, VoicePrint]:
        """(embedder, embedding and pitch) of the voice reading the reference text."""
        if voice.name not in self._references:
            loop = asyncio.get_running_loop()
            self._references[voice.name] = await loop.run_in_executor(self.executor, self._reference, voice)
        audio = audio_pb2.AudioInput(
            format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_LINEAR16,
                sample_rate_hertz=EMBED_RATE,
            ),
            content=self._references[voice.name],
        )
        try:
            response = await self._stub.Embed(profile_pb2.EmbedRequest(audio=audio), timeout=TIMEOUT)
        except grpc.aio.AioRpcError as err:
            raise self._error(err, f"embedding voice {voice.name!r}") from None
        vector = np.asarray(response.embedding, dtype=np.float32)
        return response.embedder, VoicePrint(vector, response.pitch_median_hertz)

    def _reference(self, voice: Voice) -> bytes:
        """The voice reading the reference text, as 16 kHz LINEAR16."""
        language = "en" if "en" in voice.languages else sorted(voice.languages)[0]
        chunks = list(self.engine.synthesize(REFERENCE_TEXT, VoiceChoice(voice), language))
        return to_pcm16(resample(np.concatenate(chunks), voice.sample_rate, EMBED_RATE))

    def _cache_path(self, voice: Voice, embedder: str) -> Path:
        key = f"{voice.engine}/{voice.name}|{embedder}|{REFERENCE_TEXT}|{CACHE_VERSION}"
        return self.cache / f"{voice.name}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"
