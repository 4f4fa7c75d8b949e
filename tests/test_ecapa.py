"""The ecapa embedder over a real socket, on a tiny random-weight ECAPA-TDNN in the spkrec-ecapa-voxceleb layout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

import corpus
from bench.models.ecapa import write_model
from clients.launch import REPO, failed_start, running
from common.models import HUB_OFFLINE
from lingua.profile.v1 import profile_pb2 as pb
from lingua.profile.v1 import profile_pb2_grpc
from tests.conftest import channel
from tests.test_profile import ENROLL, SAME_SPEAKER, audio, by_audio, by_profile, enroll, rpc_error

EMBEDDER = "speechbrain-ecapa-192+prosody-64/v1"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ECAPA-TDNN (192-D output) saved like the Hugging Face download."""
    return write_model(tmp_path_factory.mktemp("ecapa-voxceleb"))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile folder that already holds 'resemblyzer', enrolled by the embedded engine."""
    folder = tmp_path_factory.mktemp("profiles")
    with running("profile_server", "--data-dir", str(folder)) as address, channel(address) as ch:
        enroll(profile_pb2_grpc.VoiceProfileServiceStub(ch), "resemblyzer", [corpus.prompt_pcm16(n) for n in ENROLL])
    return folder


@pytest.fixture(scope="module")
def stub(model: Path, data_dir: Path) -> Iterator[profile_pb2_grpc.VoiceProfileServiceStub]:
    args = ("--engine", "ecapa", "--model-dir", str(model), "--device", "cpu", "--data-dir", str(data_dir))
    with running("profile_server", *args, env=HUB_OFFLINE) as address, channel(address) as ch:
        yield profile_pb2_grpc.VoiceProfileServiceStub(ch)


@pytest.fixture(scope="module")
def allison(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> pb.VoiceProfile:
    return enroll(stub, "ecapa-allison", [corpus.prompt_pcm16(n) for n in ENROLL])


def test_enrolled_profile_records_the_embedder(allison: pb.VoiceProfile, data_dir: Path) -> None:
    profile = allison
    assert profile.embedder == EMBEDDER
    assert len(profile.embedding) == 192 + 64
    vector = np.array(profile.embedding)
    assert np.linalg.norm(vector[:192]) == pytest.approx(1.0, abs=1e-4)
    assert np.linalg.norm(vector[192:]) == pytest.approx(1.0, abs=1e-4)
    total = sum(len(corpus.prompt_pcm16(n)) / 32000 for n in ENROLL)
    assert 0.6 * total < profile.speech_seconds <= total

    meta = json.loads((data_dir / "ecapa-allison.json").read_text())
    assert (meta["embedder"], meta["speaker_dim"], meta["dim"]) == (EMBEDDER, 192, 256)
    with np.load(data_dir / "ecapa-allison.npz") as arrays:
        assert np.allclose(arrays["embedding"], profile.embedding)


def test_embed_is_deterministic_and_uses_the_saved_weights(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, model: Path, tmp_path: Path
) -> None:
    pcm = corpus.prompt_pcm16(SAME_SPEAKER)
    first = stub.Embed(pb.EmbedRequest(audio=audio(pcm)), timeout=60)
    again = stub.Embed(pb.EmbedRequest(audio=audio(pcm)), timeout=60)
    assert first.embedder == EMBEDDER
    assert len(first.embedding) == 256
    assert np.array_equal(first.embedding, again.embedding)
    assert 1.0 < first.speech_seconds <= len(pcm) / 32000

    # The same folder loaded in another process gives the same speaker vector: the weights come from disk.
    script = (
        "import sys, numpy as np, corpus\n"
        "from profile_server.engines.ecapa import EcapaEmbedder\n"
        "e = EcapaEmbedder(sys.argv[1], 'cpu')\n"
        f"np.save(sys.argv[2], e.speaker_vector(corpus.prompt_float({SAME_SPEAKER!r})))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(model), str(tmp_path / "v.npy")], cwd=REPO, check=True)
    assert np.allclose(np.load(tmp_path / "v.npy"), first.embedding[:192], atol=1e-5)


def test_concurrent_embeds_agree(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    clips = [corpus.prompt_pcm16(n) for n in ("vm-intro", "conf-getpin", "queue-thankyou")]
    serial = [stub.Embed(pb.EmbedRequest(audio=audio(c)), timeout=60).embedding for c in clips]
    assert not np.allclose(serial[0], serial[1])
    calls = [stub.Embed.future(pb.EmbedRequest(audio=audio(c)), timeout=60) for c in clips * 2]
    for call, expected in zip(calls, serial * 2, strict=True):
        assert np.allclose(call.result().embedding, expected, atol=1e-5)


def test_compare_same_embedder(stub: profile_pb2_grpc.VoiceProfileServiceStub, allison: pb.VoiceProfile) -> None:
    itself = stub.Compare(
        pb.CompareRequest(first=by_profile("ecapa-allison"), second=by_profile("ecapa-allison")), timeout=60
    )
    assert itself.similarity == pytest.approx(1.0, abs=1e-4)
    other = stub.Compare(
        pb.CompareRequest(first=by_profile("ecapa-allison"), second=by_audio(corpus.prompt_pcm16(SAME_SPEAKER))),
        timeout=60,
    )
    assert -1.0 <= other.speaker_similarity < 0.9999
    assert other.similarity == pytest.approx(
        0.85 * other.speaker_similarity + 0.15 * other.prosody_similarity, abs=1e-4
    )


def test_never_compared_across_embedders(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, allison: pb.VoiceProfile
) -> None:
    listed = stub.GetProfile(pb.GetProfileRequest(profile_id="resemblyzer"), timeout=30).profile
    assert listed.embedder == "resemblyzer-256+prosody-64/v1"
    for first, second in (
        (by_profile("resemblyzer"), by_audio(corpus.prompt_pcm16(SAME_SPEAKER))),
        (by_profile("ecapa-allison"), by_profile("resemblyzer")),
    ):
        err = rpc_error(stub.Compare, pb.CompareRequest(first=first, second=second))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        details = err.details() or ""
        assert "different embedders" in details and EMBEDDER in details


def test_silence_is_refused(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    err = rpc_error(stub.Embed, pb.EmbedRequest(audio=audio(bytes(64000))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "speech" in (err.details() or "")


def _start_fails(model_dir: Path, data_dir: Path) -> str:
    output = failed_start(
        "profile_server", "--engine", "ecapa", "--model-dir", str(model_dir), "--data-dir", str(data_dir)
    )
    assert "LISTENING" not in output
    return output


def test_missing_model_stops_the_server(model: Path, tmp_path: Path) -> None:
    absent = tmp_path / "nowhere"
    assert f"{absent} does not exist" in _start_fails(absent, tmp_path / "p")

    partial = tmp_path / "partial"
    shutil.copytree(model, partial)
    (partial / "embedding_model.ckpt").unlink()
    message = _start_fails(partial, tmp_path / "p")
    assert f"{partial / 'embedding_model.ckpt'} is missing" in message
    assert "docs/production.md#ecapa" in message
