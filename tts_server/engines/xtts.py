"""Coqui XTTS v2 (coqui-tts): streaming synthesis in a voice cloned from a profile's enrollment audio.

The model loads from a local folder laid out like the coqui/XTTS-v2 download
(config.json, model.pth, vocab.json; speakers_xtts.pth optional) through the
library's own loading code. A voice is XTTS conditioning: GPT conditioning
latents and the decoder's speaker embedding. A profile is conditioned once per
enrollment, cached on disk owner-only (keyed by profile id, enrollment time and model
fingerprint) and in memory. Built-in voices are the named speakers of
speakers_xtts.pth, or, without it, one voice cloned from the embedded Piper
voice reading the matching reference text.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.models.xtts import Xtts

from common import profile_cache
from common.errors import FailedPrecondition
from common.models import torch_device
from common.paths import cache_dir
from tts_server.engines.base import Voice, VoiceChoice
from tts_server.matching import REFERENCE_TEXT

log = logging.getLogger(__name__)

DEFAULT_VOICE = "xtts-default"
"""The built-in voice when the folder has no speakers_xtts.pth: cloned from the Piper reference reading."""
MEMORY_VOICES = 32
"""Cloned voices whose conditioning stays in memory (least recently used go first)."""
SAMPLING = ("temperature", "length_penalty", "repetition_penalty", "top_k", "top_p")
"""Generation settings taken from config.json, as the library's own synthesize does."""

Reference = Callable[[], tuple[np.ndarray, int]]
"""Makes the reference recording of the default voice: (float32 audio, its rate)."""


@dataclass(frozen=True)
class Conditioning:
    """What XTTS speaks with: GPT conditioning latents and the HiFi-GAN speaker embedding."""

    latents: torch.Tensor
    speaker: torch.Tensor

    def save(self, out: IO[bytes]) -> None:
        """Write the tensors as an .npz file."""
        np.savez(out, latents=self.latents.float().numpy(), speaker=self.speaker.float().numpy())

    @classmethod
    def load(cls, path: Path) -> Conditioning:
        """Read what to_bytes wrote."""
        with np.load(path, allow_pickle=False) as data:
            return cls(torch.from_numpy(data["latents"]), torch.from_numpy(data["speaker"]))


def load_model(folder: Path, device: str) -> Xtts:
    """XTTS through the library's loading path: config.json, then model.pth, vocab.json (and speakers) in folder."""
    config = XttsConfig()
    config.load_json(str(folder / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(folder), use_deepspeed=False)
    return model.to(device)


def fingerprint(folder: Path) -> str:
    """Identifies the model's conditioning: its config, and the size and time of its weights."""
    weights = (folder / "model.pth").stat()
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    digest.update(f"{weights.st_size}:{weights.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def piper_reference(threads: int) -> tuple[np.ndarray, int]:
    """The embedded Piper voice reading the reference text."""
    from tts_server.engines.piper import PiperSynthesizer

    piper = PiperSynthesizer(threads)
    voice = piper.voices()[0]
    audio = np.concatenate(list(piper.synthesize(REFERENCE_TEXT, VoiceChoice(voice), "en")))
    return audio, voice.sample_rate


class XttsSynthesizer:
    """XTTS v2 on a local model folder: one model, used by one stream piece at a time."""

    name = "xtts"

    def __init__(
        self,
        folder: Path,
        device: str = "auto",
        stream_chunk: int = 20,
        threads: int = 1,
        defaults: dict[str, str] | None = None,
        reference: Reference | None = None,
        cache: Path | None = None,
    ) -> None:
        torch.set_num_threads(threads)
        self.device = torch_device(device)
        self.model = load_model(folder, self.device)
        self.fingerprint = fingerprint(folder)
        self.stream_chunk = stream_chunk
        self.cache = profile_cache.private_folder(cache or cache_dir(profile_cache.XTTS_LATENTS))
        self.rate = int(self.model.args.output_sample_rate)
        self.languages = self._speakable(self.model.config.languages)
        self._sampling = {key: self.model.config[key] for key in SAMPLING}
        self._lock = threading.Lock()
        """Held while the model generates: the GPT keeps the prompt of the running call."""
        self._memory: OrderedDict[str, Conditioning] = OrderedDict()
        self._memory_lock = threading.Lock()
        manager = self.model.speaker_manager
        if manager is not None:
            self._builtin = {name: Conditioning(*entry.values()) for name, entry in manager.speakers.items()}
        else:
            self._builtin = {DEFAULT_VOICE: self._reference_conditioning(reference)}
        self._voices = [Voice(name, self.name, self.languages, self.rate) for name in self._builtin]
        self.defaults: dict[str, Voice] = {}
        by_name = {voice.name: voice for voice in self._voices}
        for language, name in (defaults or {}).items():
            if name not in by_name or language not in self.languages:
                raise ValueError(f"default voice {name!r} for {language!r} is not an XTTS voice that speaks it")
            self.defaults[language] = by_name[name]
        log.info(
            "XTTS from %s on %s: %d voices, languages %s",
            folder,
            self.device,
            len(self._voices),
            sorted(self.languages),
        )

    def _speakable(self, languages: Sequence[str]) -> frozenset[str]:
        """The model's languages (primary subtags) whose text frontend is installed."""
        speakable = set()
        for language in languages:
            try:
                self.model.tokenizer.encode("a", language)
            except ImportError as err:
                log.warning("XTTS language %s is off: its text frontend is not installed (%s)", language, err)
                continue
            speakable.add(language.split("-")[0])
        return frozenset(speakable)

    def voices(self) -> list[Voice]:
        """The built-in voices (cloned profile voices are made per stream)."""
        return list(self._voices)

    def default_voice(self, language: str) -> Voice | None:
        """The configured default for language, else the first built-in voice."""
        if language not in self.languages:
            return None
        return self.defaults.get(language, self._voices[0])

    def candidates(self, language: str) -> list[Voice]:
        """The built-in voices that speak language (a profile is cloned, not matched)."""
        return list(self._voices) if language in self.languages else []

    def base_rate(self, voice: Voice, language: str) -> float:
        """XTTS speaks at its own rate."""
        return 1.0

    def cloned(self, profile_id: str, version: str) -> Voice | None:
        """The profile's voice if this enrollment is conditioned already (in memory or on disk)."""
        key = self._key(profile_id, version)
        found = self._find(key)
        if found is None:
            return None
        log.info("latents for profile %s: cache hit (%s)", profile_id, found[1])
        return self._profile_voice(profile_id, key)

    def clone(self, profile_id: str, version: str, samples: Sequence[np.ndarray], rate: int) -> Voice:
        """Condition on the enrollment samples, cache the latents on disk and in memory, and return the voice."""
        key = self._key(profile_id, version)
        started = time.perf_counter()
        conditioning = self.condition(samples, rate)
        profile_cache.write(self.cache / f"{key}.npz", conditioning.save)
        self._remember(key, conditioning)
        log.info(
            "latents for profile %s: cache miss, computed from %.1f s of audio in %.2f s",
            profile_id,
            sum(len(s) for s in samples) / rate,
            time.perf_counter() - started,
        )
        return self._profile_voice(profile_id, key)

    def condition(self, samples: Sequence[np.ndarray], rate: int) -> Conditioning:
        """XTTS conditioning from audio tensors, as the library's get_conditioning_latents does from files.

        Each sample (up to max_ref_len s) gives a speaker embedding, averaged; the
        samples joined give the GPT latents (the library resamples to 22.05 kHz).
        """
        config = self.model.config
        clips = [torch.from_numpy(np.asarray(s, np.float32))[None, : rate * config.max_ref_len] for s in samples]
        clips = [clip.to(self.device) for clip in clips if clip.shape[1] > 0]
        if not clips:
            raise FailedPrecondition("the profile has no enrollment audio to clone the voice from; re-enroll it")
        if config.sound_norm_refs:
            clips = [clip / clip.abs().max().clamp(min=1e-6) * 0.75 for clip in clips]
        speaker = torch.stack([self.model.get_speaker_embedding(clip, rate) for clip in clips]).mean(dim=0)
        latents = self.model.get_gpt_cond_latents(
            torch.cat(clips, dim=-1), rate, length=config.gpt_cond_len, chunk_length=config.gpt_cond_chunk_len
        )
        return Conditioning(latents.cpu(), speaker.cpu())

    def synthesize(self, text: str, choice: VoiceChoice, language: str, region: str = "") -> Iterator[np.ndarray]:
        """Yield 24 kHz float32 chunks as XTTS generates them (every stream_chunk GPT tokens)."""
        conditioning = self._conditioning(choice.voice)
        with self._lock:
            for chunk in self.model.inference_stream(
                text,
                language,
                conditioning.latents,
                conditioning.speaker,
                stream_chunk_size=self.stream_chunk,
                enable_text_splitting=False,
                **self._sampling,
            ):
                yield chunk.float().cpu().numpy()

    def warm_up(self) -> None:
        """Speak a short phrase with the first voice."""
        language = "en" if "en" in self.languages else sorted(self.languages)[0]
        for _ in self.synthesize("Warming up the voice.", VoiceChoice(self._voices[0]), language):
            pass

    def _conditioning(self, voice: Voice) -> Conditioning:
        if not voice.clone_key:
            return self._builtin[voice.name]
        found = self._find(voice.clone_key)
        if found is None:
            raise FailedPrecondition(f"the latents of {voice.name} are no longer cached; start a new stream")
        return found[0]

    def _find(self, key: str) -> tuple[Conditioning, str] | None:
        """The cached conditioning and where it was ("memory", or "disk" and now in memory too); None if absent."""
        with self._memory_lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key], "memory"
        path = self.cache / f"{key}.npz"
        if not path.exists():
            return None
        conditioning = Conditioning.load(path)
        self._remember(key, conditioning)
        return conditioning, "disk"

    def _remember(self, key: str, conditioning: Conditioning) -> None:
        with self._memory_lock:
            self._memory[key] = conditioning
            self._memory.move_to_end(key)
            while len(self._memory) > MEMORY_VOICES:
                self._memory.popitem(last=False)

    def _key(self, profile_id: str, version: str) -> str:
        """Cache key: readable profile id, then a hash of id, enrollment version and model (common.profile_cache)."""
        return profile_cache.key(profile_id, version, self.fingerprint)

    def _profile_voice(self, profile_id: str, key: str) -> Voice:
        return Voice(f"profile:{profile_id}", self.name, self.languages, self.rate, clone_key=key)

    def _reference_conditioning(self, reference: Reference | None) -> Conditioning:
        """The default voice's conditioning, from the disk cache or the reference recording."""
        key = self._key(DEFAULT_VOICE, hashlib.sha256(REFERENCE_TEXT.encode()).hexdigest()[:12])
        path = self.cache / f"{key}.npz"
        if path.exists():
            return Conditioning.load(path)
        if reference is None:
            raise ValueError("the XTTS folder has no speakers_xtts.pth and no reference voice was given")
        audio, rate = reference()
        conditioning = self.condition([audio], rate)
        profile_cache.write(path, conditioning.save)
        return conditioning
