"""NVIDIA NeMo ASR from a local .nemo file: cache-aware streaming FastConformer, else buffered decoding.

A cache-aware streaming model (chunked_limited attention, causal convolutions and
downsampling, unnormalized features, e.g. stt_en_fastconformer_hybrid_large_streaming_multi)
keeps each utterance's encoder state between decodes. The Session re-sends the whole,
only growing, utterance audio; the state of recent utterances is kept under a digest of
their first FINGERPRINT_S of audio, and a decode whose audio starts with the samples the
state was built on feeds only the new whole chunks, with their features computed on a fixed
audio span per chunk, so the chunks fed are exactly those of one pass from scratch. A final
decode feeds the rest (keep_all_outputs on the last piece, as NeMo's own streaming
inference does) on a copy, so speech may resume after a speculative final. Other models get
a buffered recognizer that runs the whole utterance through the model on every decode.

Prefix rule: the committed words always win. The transcript's first len(prefix) words are
replaced by the prefix's and the hypothesis' later words follow, so the text starts with
the prefix even where a new hypothesis diverges from it.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from nemo.collections.asr.models import ASRModel, EncDecCTCModel
from nemo.collections.asr.modules.conformer_encoder import ConformerEncoder

from stt_server.engines.base import SAMPLE_RATE, Transcript

log = logging.getLogger(__name__)

FINGERPRINT_S = 0.5
"""Audio that identifies an utterance: shorter decodes keep no state."""
STATES = 32
"""Utterance states kept (least recently used dropped first)."""
STREAMING_MAX_S = 60.0
BUFFERED_MAX_S = 30.0


def parse_att_context(text: str) -> list[int]:
    """'70,13' -> [70, 13]: left and right attention context in encoder frames."""
    try:
        left, right = (int(v) for v in text.split(","))
    except ValueError:
        raise SystemExit(f"--nemo-att-context {text!r}: expected LEFT,RIGHT frames, e.g. 70,13") from None
    return [left, right]


def load_model(folder: Path, device: str, att_context: str | None, decoder: str | None) -> Any:
    """Restore the folder's one .nemo on device, with the chosen lookahead and decoder, in eval mode."""
    found = sorted(folder.glob("*.nemo"))
    if len(found) != 1:
        raise SystemExit(f"nemo-stt: {folder} must hold exactly one .nemo file, found {len(found)}")
    model = ASRModel.restore_from(str(found[0]), map_location=torch.device(device))
    if decoder is not None:
        if hasattr(model, "cur_decoder"):
            model.change_decoding_strategy(decoder_type=decoder)
        elif decoder != ("ctc" if isinstance(model, EncDecCTCModel) else "rnnt"):
            raise SystemExit(f"--nemo-decoder {decoder}: {found[0].name} is not a hybrid RNNT-CTC model")
    if att_context is not None:
        wanted = parse_att_context(att_context)
        choices = [list(c) for c in getattr(model.encoder, "att_context_size_all", [])]
        if wanted not in choices:
            valid = " ".join(f"{a},{b}" for a, b in choices) or "none (the encoder has no attention context sizes)"
            raise SystemExit(f"--nemo-att-context {att_context} is not supported by {found[0].name}; valid: {valid}")
        model.encoder.set_default_att_context_size(wanted)
    model.eval()
    return model


def streaming_unsupported(model: Any) -> str | None:
    """Why the model cannot stream cache-aware (None when it can)."""
    encoder = model.encoder
    if not isinstance(encoder, ConformerEncoder) or encoder.att_context_style != "chunked_limited":
        return "its encoder has no chunked_limited attention"
    if min(encoder.att_context_size) < 0 or encoder.conv_context_size[1] != 0:
        return "its attention or convolution context is not limited and causal"
    if not getattr(encoder.pre_encode, "is_causal", False):
        return "its downsampling is not causal"
    if model.preprocessor.featurizer.normalize in ("per_feature", "all_features"):
        return "its features are normalized over the whole utterance"
    return None


def with_prefix(text: str, prefix: str) -> str:
    """text with its first words replaced by prefix's words."""
    committed = prefix.split()
    return " ".join(committed + text.split()[len(committed) :])


def _text(hypotheses: list[Any]) -> str:
    return str(hypotheses[0].text)


class _NemoRecognizer:
    """What both recognizers share: one language, the prefix rule, warm-up."""

    max_seconds: float

    def __init__(self, model: Any, language: str, workers: int) -> None:
        self._model = model
        self._device = next(model.parameters()).device
        self._language = language
        self.languages = frozenset({language})
        self.workers = workers

    def _transcribe(self, audio: np.ndarray, final: bool, abandoned: Callable[[], bool]) -> str | None:
        raise NotImplementedError

    def decode(
        self,
        audio: np.ndarray,
        language: str | None,
        prefix: str,
        final: bool,
        abandoned: Callable[[], bool] = lambda: False,
        allowed: frozenset[str] = frozenset(),
    ) -> Transcript | None:
        """Transcribe one utterance (in the model's one language); the text starts with prefix. None if abandoned."""
        with torch.no_grad():
            text = self._transcribe(audio, final, abandoned)
        return None if text is None else Transcript(with_prefix(text, prefix), self._language)

    def warm_up(self) -> None:
        """Decode a second of quiet noise as a partial and as a final."""
        noise = np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE).astype(np.float32)
        self.decode(noise, None, "", final=False)
        self.decode(noise, None, "", final=True)


class BufferedRecognizer(_NemoRecognizer):
    """Any CTC, RNNT or hybrid model: the whole utterance through the model on each decode."""

    max_seconds = BUFFERED_MAX_S

    def _transcribe(self, audio: np.ndarray, final: bool, abandoned: Callable[[], bool]) -> str | None:
        model = self._model
        signal = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(self._device)[None]
        length = torch.tensor([len(audio)], device=self._device)
        features, feature_len = model.preprocessor(input_signal=signal, length=length)
        encoded, encoded_len = model.encoder(audio_signal=features, length=feature_len)
        if abandoned():
            return None
        if isinstance(model, EncDecCTCModel):
            return _text(
                model.decoding.ctc_decoder_predictions_tensor(model.decoder(encoder_output=encoded), encoded_len)
            )
        if getattr(model, "cur_decoder", None) == "ctc":
            log_probs = model.ctc_decoder(encoder_output=encoded)
            return _text(model.ctc_decoding.ctc_decoder_predictions_tensor(log_probs, encoded_len))
        return _text(
            model.decoding.rnnt_decoder_predictions_tensor(encoder_output=encoded, encoded_lengths=encoded_len)
        )


@dataclass(frozen=True)
class _State:
    """One utterance's streaming state after its first frames feature frames."""

    frames: int
    cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    pred_out: list[torch.Tensor] | None
    hypotheses: list[Any] | None
    text: str


def _digest(audio: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(audio).data).digest()


class _States:
    """States of recent utterances by fingerprint, each with the length and digest of the audio it was built on."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._states: OrderedDict[bytes, tuple[int, bytes, _State]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, audio: np.ndarray) -> _State | None:
        """Remove and return the state this audio continues, if any."""
        if len(audio) < FINGERPRINT_S * SAMPLE_RATE:
            return None
        with self._lock:
            entry = self._states.pop(_digest(audio[: int(FINGERPRINT_S * SAMPLE_RATE)]), None)
        if entry is None:
            return None
        samples, digest, state = entry
        return state if samples <= len(audio) and _digest(audio[:samples]) == digest else None

    def put(self, audio: np.ndarray, state: _State) -> None:
        """Keep state as built on audio."""
        if len(audio) < FINGERPRINT_S * SAMPLE_RATE:
            return
        entry = (len(audio), _digest(audio), state)
        with self._lock:
            self._states[_digest(audio[: int(FINGERPRINT_S * SAMPLE_RATE)])] = entry
            while len(self._states) > self._size:
                self._states.popitem(last=False)


class StreamingRecognizer(_NemoRecognizer):
    """Cache-aware streaming: each decode feeds only the chunks its utterance has not fed yet."""

    max_seconds = STREAMING_MAX_S

    def __init__(self, model: Any, language: str, workers: int) -> None:
        super().__init__(model, language, workers)
        encoder = model.encoder
        encoder.setup_streaming_params()
        cfg = encoder.streaming_cfg
        self._chunk = _pair(cfg.chunk_size)
        self._pre_cache = _pair(cfg.pre_encode_cache_size)
        self._min_frames = _pair(encoder.pre_encode.get_sampling_frames())
        self._drop_extra = cfg.drop_extra_pre_encoded
        featurizer = model.preprocessor.featurizer
        self._hop = int(featurizer.hop_length)
        self._n_fft = int(featurizer.n_fft)
        left = featurizer.stft_pad_amount if featurizer.stft_pad_amount is not None else self._n_fft // 2
        self._margin = -(-(left + 1) // self._hop)  # frames before a span whose windows reach the span's first sample
        self._states = _States(STATES)
        lookahead_ms = 1000 * encoder.subsampling_factor * encoder.att_context_size[1] * self._hop / SAMPLE_RATE
        log.info(
            "cache-aware streaming, att_context_size %s (lookahead %.0f ms), chunk %d ms",
            encoder.att_context_size,
            lookahead_ms,
            1000 * self._chunk[1] * self._hop / SAMPLE_RATE,
        )

    def chunk_seconds(self) -> float:
        """Audio per streaming step after the first."""
        return self._chunk[1] * self._hop / SAMPLE_RATE

    def start(self) -> _State:
        """The state before any audio."""
        cache = self._model.encoder.get_initial_cache_state(batch_size=1, device=self._device)
        return _State(0, tuple(cache), None, None, "")

    def _features(self, audio: np.ndarray, start: int, stop: int) -> torch.Tensor:
        """Feature frames [start, stop) computed on a span of audio that depends on start and stop only."""
        first = max(0, start - self._margin)
        span = audio[first * self._hop : stop * self._hop + self._n_fft]
        signal = torch.from_numpy(np.ascontiguousarray(span, dtype=np.float32)).to(self._device)[None]
        features, _ = self._model.preprocessor(
            input_signal=signal, length=torch.tensor([len(span)], device=self._device)
        )
        return features[:, :, start - first : stop - first]

    def step(self, audio: np.ndarray, state: _State, frames: int, last: bool) -> _State:
        """Feed the next frames feature frames (after the pre-encode cache) through the model."""
        later = int(state.frames > 0)
        cached = min(self._pre_cache[later], state.frames)
        chunk = self._features(audio, state.frames - cached, state.frames + frames)
        if cached < self._pre_cache[later]:
            chunk = torch.nn.functional.pad(chunk, (self._pre_cache[later] - cached, 0))
        pred_out, hypotheses, *cache, best = self._model.conformer_stream_step(
            processed_signal=chunk,
            processed_signal_length=torch.tensor([chunk.shape[-1]], device=self._device),
            cache_last_channel=state.cache[0],
            cache_last_time=state.cache[1],
            cache_last_channel_len=state.cache[2],
            keep_all_outputs=last,
            previous_hypotheses=state.hypotheses,
            previous_pred_out=state.pred_out,
            drop_extra_pre_encoded=self._drop_extra if later else 0,
            return_transcription=True,
        )
        return _State(state.frames + frames, tuple(cache), pred_out, best, _text(hypotheses))

    def next_chunk(self, state: _State) -> int:
        """Feature frames of the next whole chunk."""
        return self._chunk[int(state.frames > 0)]

    def fits(self, state: _State, samples: int) -> bool:
        """Whether audio of this length holds the next whole chunk, with its features final."""
        return (state.frames + self.next_chunk(state)) * self._hop + self._n_fft <= samples

    def _transcribe(self, audio: np.ndarray, final: bool, abandoned: Callable[[], bool]) -> str | None:
        state = self._states.take(audio) or self.start()
        while self.fits(state, len(audio)):
            state = self.step(audio, state, self.next_chunk(state), last=False)
            if abandoned():
                self._states.put(audio, state)
                return None
        tail = replace(state, hypotheses=copy.deepcopy(state.hypotheses))  # stepping changes hypotheses in place
        self._states.put(audio, state)
        if not final:
            return state.text
        total = int(self._model.preprocessor.featurizer.get_seq_len(torch.tensor(len(audio))))
        while total - tail.frames >= self._min_frames[int(tail.frames > 0)]:
            frames = min(self.next_chunk(tail), total - tail.frames)
            tail = self.step(audio, tail, frames, last=tail.frames + frames == total)
        return tail.text


def _pair(value: int | list[int]) -> tuple[int, int]:
    """A streaming setting as (first step, later steps)."""
    return (value[0], value[1]) if isinstance(value, list) else (value, value)


def recognizer(model: Any, language: str, workers: int) -> StreamingRecognizer | BufferedRecognizer:
    """The streaming recognizer where the model supports it, else the buffered one."""
    why = streaming_unsupported(model)
    if why is None:
        return StreamingRecognizer(model, language, workers)
    log.info("buffered decoding of whole utterances: %s cannot stream cache-aware, as %s", type(model).__name__, why)
    return BufferedRecognizer(model, language, workers)
