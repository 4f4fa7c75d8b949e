"""The NeMo STT engine on tiny random-weight FastConformer .nemo files, served over a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from math import ceil
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import torch

import corpus
from bench.models.nemo import LABELS, TINY, write_model
from clients.launch import failed_start, running
from common.audio import pcm16, to_float
from common.vad import SileroDetector
from stt_server.engines.base import SAMPLE_RATE
from stt_server.engines.nemo import BufferedRecognizer, StreamingRecognizer, load_model, with_prefix
from stt_server.stream import Tuning
from tests.test_stt import RATE, Utterance, recognize, seconds, silence, utterances

PROMPT = "conf-onlyperson"
AUDIO = silence(0.5) + corpus.prompt_pcm16(PROMPT) + silence(1.0)
DURATION = len(AUDIO) / 2 / RATE


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model folders: cache-aware streaming CTC, offline CTC, cache-aware hybrid RNNT-CTC."""
    root = tmp_path_factory.mktemp("nemo")
    write_model(root / "streaming", TINY, streaming=True)
    write_model(root / "buffered", TINY, streaming=False)
    write_model(root / "hybrid", TINY, streaming=True, hybrid=True)
    return {name: root / name for name in ("streaming", "buffered", "hybrid")}


def server_args(folder: Path) -> list[str]:
    """Flags of a NeMo-engine STT server on folder's model."""
    return ["--engine", "nemo", "--model-dir", str(folder), "--cpu-threads", "1"]


@pytest.fixture(scope="module")
def streaming_address(models: dict[str, Path]) -> Iterator[str]:
    with running("stt_server", *server_args(models["streaming"])) as address:
        yield address


@pytest.fixture(scope="module")
def streamed(streaming_address: str) -> list[Utterance]:
    """AUDIO streamed in real time with partials, grouped by utterance (order checked)."""
    return utterances(recognize(streaming_address, AUDIO, pace=1.0, interim_results=True), DURATION)


def spelled(text: str) -> bool:
    """Whether text is made of the model's characters."""
    return set(text) <= set(LABELS)


def test_streaming_event_stream(streamed: list[Utterance]) -> None:
    assert streamed, "no utterance detected"
    assert streamed[0].start == pytest.approx(0.5, abs=0.35)
    for utt in streamed:
        assert utt.final is not None
        assert utt.final.language_code == "en"
        assert spelled(utt.final.transcript)
        for partial in utt.partials:
            assert partial.language_code == "en" and spelled(partial.transcript)
            assert seconds(partial.end_offset) <= seconds(utt.final.end_offset)
    assert any(utt.partials for utt in streamed), "no partial results"
    assert " ".join(u.final.transcript for u in streamed if u.final).strip(), "the model emitted no text"


def utterance_audio(utt: Utterance) -> np.ndarray:
    """The audio of utt's speculative final: the VAD's preroll before its start, 2 windows after its speech."""
    assert utt.final is not None
    window = SileroDetector().window
    tuning = Tuning()
    begin = round(utt.start * RATE) - ceil(tuning.preroll_ms * RATE / 1000 / window) * window
    end = round(seconds(utt.final.end_offset) * RATE) + ceil(tuning.speculate_ms * RATE / 1000 / window) * window
    return to_float(pcm16(AUDIO))[begin:end]


def test_streamed_final_equals_one_pass(streamed: list[Utterance], models: dict[str, Path]) -> None:
    """The server's finals, built on state carried across partial decodes, equal one pass from scratch."""
    model = load_model(models["streaming"], "cpu", None, None)
    for utt in streamed:
        assert utt.final is not None
        expected = StreamingRecognizer(model, "en", 1).decode(utterance_audio(utt), "en", "", final=True)
        assert expected is not None and expected.text
        assert utt.final.transcript == expected.text


def nemo_reference(model: Any, audio: np.ndarray) -> str:
    """NeMo's own cache-aware streaming loop (as in its streaming inference example) over audio."""
    from nemo.collections.asr.parts.utils.streaming_utils import CacheAwareStreamingAudioBuffer

    with torch.no_grad():
        buffer = CacheAwareStreamingAudioBuffer(model=model, online_normalization=False)
        features, length = buffer.preprocess_audio(audio)
        buffer.append_processed_signal(features[:, :, : int(length)])
        cache = model.encoder.get_initial_cache_state(batch_size=1)
        pred_out = hypotheses = texts = None
        for step, (chunk, chunk_len) in enumerate(buffer):
            pred_out, texts, *cache, hypotheses = model.conformer_stream_step(
                processed_signal=chunk,
                processed_signal_length=chunk_len,
                cache_last_channel=cache[0],
                cache_last_time=cache[1],
                cache_last_channel_len=cache[2],
                keep_all_outputs=buffer.is_buffer_empty(),
                previous_hypotheses=hypotheses,
                previous_pred_out=pred_out,
                drop_extra_pre_encoded=0 if step == 0 else model.encoder.streaming_cfg.drop_extra_pre_encoded,
                return_transcription=True,
            )
    assert texts is not None
    return str(texts[0].text)


class CountingRecognizer(StreamingRecognizer):
    """Counts the feature frames it feeds the encoder."""

    fed = 0

    def step(self, audio: np.ndarray, state: Any, frames: int, last: bool) -> Any:
        self.fed += frames
        return super().step(audio, state, frames, last)


@pytest.mark.parametrize(("model_name", "decoder"), [("streaming", None), ("hybrid", "rnnt"), ("hybrid", "ctc")])
def test_incremental_decodes_equal_nemo_streaming(
    models: dict[str, Path], model_name: str, decoder: str | None
) -> None:
    """Partials every 0.5 s, a speculative final, more speech, the final: each as NeMo streams it from scratch."""
    model = load_model(models[model_name], "cpu", None, decoder)
    recognizer = CountingRecognizer(model, "en", 1)
    audio = to_float(pcm16(AUDIO))
    step = SAMPLE_RATE // 2
    for n in range(step, len(audio), step):
        partial = recognizer.decode(audio[:n], "en", "", final=False)
        assert partial is not None
        if n == 4 * step:
            speculative = recognizer.decode(audio[:n], "en", "", final=True)
            assert speculative is not None and speculative.text == nemo_reference(model, audio[:n])
            assert speculative.text.startswith(partial.text)
    final = recognizer.decode(audio, "en", "", final=True)
    assert final is not None and final.text
    assert final.text == nemo_reference(model, audio)
    frames, chunk = len(audio) // 160, round(100 * recognizer.chunk_seconds())
    assert recognizer.fed <= frames + 4 * chunk, "decodes did not continue from the stored state"


@pytest.mark.parametrize("att_context", ["70,13", "70,0"])
def test_lookahead_changes_the_chunk(models: dict[str, Path], att_context: str) -> None:
    model = load_model(models["streaming"], "cpu", att_context, None)
    chunk = StreamingRecognizer(model, "en", 1).chunk_seconds()
    assert chunk == pytest.approx(0.08 * (1 + int(att_context.split(",")[1])))
    audio = to_float(pcm16(AUDIO))
    result = StreamingRecognizer(model, "en", 1).decode(audio, "en", "", final=True)
    assert result is not None and result.text == nemo_reference(model, audio)


def test_prefix_is_kept() -> None:
    assert with_prefix("abc def ghi", "abc def") == "abc def ghi"
    assert with_prefix("abd def ghi", "abc") == "abc def ghi"
    assert with_prefix("abc", "abc def") == "abc def"


def test_unsupported_language_is_invalid_argument(streaming_address: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        recognize(streaming_address, silence(0.2), language_code="de")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_buffered_fallback_event_stream(models: dict[str, Path]) -> None:
    model = load_model(models["buffered"], "cpu", None, None)
    audio = to_float(pcm16(AUDIO))
    expected = BufferedRecognizer(model, "en", 1).decode(audio, "en", "", final=True)
    assert expected is not None and expected.text, "the offline model emitted no text"
    with running("stt_server", *server_args(models["buffered"])) as address:
        utts = utterances(recognize(address, AUDIO, interim_results=True), DURATION)
    assert utts
    for utt in utts:
        assert utt.final is not None and utt.final.language_code == "en" and spelled(utt.final.transcript)
    assert " ".join(u.final.transcript for u in utts if u.final).strip()


def test_missing_model_folder_stops_the_server(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    out = failed_start("stt_server", env={"LINGUA_STT_ENGINE": "nemo", "LINGUA_STT_MODEL_DIR": str(missing)})
    assert str(missing) in out and "docs/production.md#nemo" in out
    out = failed_start("stt_server", "--engine", "nemo", "--model-dir", str(tmp_path))
    assert str(tmp_path / "*.nemo") in out


def test_bad_att_context_names_the_choices(models: dict[str, Path]) -> None:
    out = failed_start(
        "stt_server", "--engine", "nemo", "--model-dir", str(models["streaming"]), "--nemo-att-context", "70,5"
    )
    assert "70,5" in out and "70,13 70,6 70,1 70,0" in out
