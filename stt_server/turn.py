"""End-of-turn prediction from audio: Smart Turn v3.2 (ONNX, 23 languages).

The model ships inside PyPI `pipecat-ai` (installed without its dependencies, for this
file only). It reads the last 8 s of a 16 kHz utterance as Whisper log-mel features
(80 bins, 10 ms hop, the waveform normalized to zero mean and unit variance first)
and answers the probability that the speaker has finished their turn. The stream
uses it to commit an utterance after a short silence when the turn sounds complete,
and to keep waiting for the full endpoint when it does not.
"""

from __future__ import annotations

import asyncio
import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from faster_whisper.feature_extractor import FeatureExtractor

SAMPLE_RATE = 16000
SECONDS = 8
MODEL = Path("audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")


def bundled_model() -> Path:
    """The Smart Turn model file inside the installed pipecat package (not imported)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("PyPI pipecat-ai is not installed: run scripts/setup")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL
    if not path.exists():
        raise FileNotFoundError(f"no Smart Turn model at {path}")
    return path


class TurnModel:
    """Probability that an utterance's speaker has finished, from its audio."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path or bundled_model()), sess_options=options)
        self._features = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE, hop_length=160, n_fft=400)

    def features(self, audio: np.ndarray) -> np.ndarray:
        """(80, 800) log-mel features of the last 8 s of audio, zero-padded in front."""
        n = SECONDS * SAMPLE_RATE
        clip = np.zeros(n, dtype=np.float32)
        tail = audio[-n:].astype(np.float32)
        clip[n - len(tail) :] = tail
        clip = (clip - clip.mean()) / np.sqrt(clip.var() + 1e-7)
        return np.asarray(self._features(clip, padding=0), dtype=np.float32)[:, : SECONDS * 100]

    def probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for 16 kHz float32 audio ending now."""
        (logits,) = self._session.run(None, {"input_features": self.features(audio)[None]})
        return float(np.asarray(logits).reshape(-1)[0])

    def warm_up(self) -> None:
        self.probability(np.zeros(SAMPLE_RATE, dtype=np.float32))


class TurnDetector:
    """A TurnModel run off the event loop, one prediction at a time (server-wide)."""

    def __init__(self, model: TurnModel) -> None:
        self._model = model
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="turn")

    def predict(self, audio: np.ndarray) -> asyncio.Future[float]:
        """P(turn complete) for audio, computed in the turn thread."""
        return asyncio.get_running_loop().run_in_executor(self._executor, self._model.probability, audio)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
