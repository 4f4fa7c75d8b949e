"""VoiceProfileService over a real socket: enrollment, comparison, storage, validation (files: test_profile_files)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from scipy.signal import resample_poly

import corpus
from clients.launch import running
from lingua.audio.v1 import audio_pb2
from lingua.profile.v1 import profile_pb2 as pb
from lingua.profile.v1 import profile_pb2_grpc
from profile_server.store import ProfileStore
from tests.conftest import channel

EMBEDDER = "resemblyzer-256+prosody-64/v1"
ENROLL = ("auth-incorrect", "conf-onlyperson", "pbx-invalid")
SAME_SPEAKER = "vm-nobodyavail"
OTHER_SPEAKER = ("auth-incorrect", "fr")  # 'June', a different woman
LINEAR16 = audio_pb2.AUDIO_ENCODING_LINEAR16


@pytest.fixture(scope="module")
def stub(profile_address: str) -> Iterator[profile_pb2_grpc.VoiceProfileServiceStub]:
    with channel(profile_address) as ch:
        yield profile_pb2_grpc.VoiceProfileServiceStub(ch)


@pytest.fixture(scope="module")
def allison(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> pb.VoiceProfile:
    """The English core-sounds speaker, enrolled from three prompts."""
    return enroll(stub, f"allison-{uuid.uuid4().hex[:8]}", [corpus.prompt_pcm16(n) for n in ENROLL])


def fmt(rate: int = 16000) -> audio_pb2.AudioFormat:
    return audio_pb2.AudioFormat(encoding=LINEAR16, sample_rate_hertz=rate)


def audio(pcm: bytes, rate: int = 16000) -> audio_pb2.AudioInput:
    return audio_pb2.AudioInput(format=fmt(rate), content=pcm)


def requests(profile_id: str, samples: list[bytes], rate: int = 16000, **meta: str) -> Iterator[pb.EnrollRequest]:
    metadata = pb.EnrollMetadata(profile_id=profile_id, format=fmt(rate), **meta)
    yield pb.EnrollRequest(metadata=metadata)
    for sample in samples:
        yield pb.EnrollRequest(sample=sample)


def enroll(stub: profile_pb2_grpc.VoiceProfileServiceStub, profile_id: str, samples: list[bytes]) -> pb.VoiceProfile:
    reply = stub.Enroll(
        requests(profile_id, samples, display_name="Allison", language_code="en-US"),
        timeout=120,
    )
    return reply.profile


def rpc_error(call: object, *args: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=60)  # type: ignore[operator]
    return info.value


def resample16(pcm: bytes, rate: int) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return np.clip(resample_poly(samples, rate, 16000), -32768, 32767).astype("<i2").tobytes()


def noise(seconds: float, seed: int, level: float = 0.1) -> bytes:
    """White noise at level RMS (0.1: -20 dBFS) as 16 kHz LINEAR16."""
    samples = np.random.default_rng(seed).standard_normal(int(seconds * 16000)) * level * 32767
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def with_noise(pcm: bytes, snr_db: float, seed: int) -> bytes:
    """pcm with white noise added snr_db below its RMS level."""
    speech = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    level = np.sqrt(np.mean(speech**2)) / 10 ** (snr_db / 20)
    noisy = speech + np.random.default_rng(seed).standard_normal(len(speech)) * level
    return np.clip(noisy, -32768, 32767).astype("<i2").tobytes()


def by_profile(profile_id: str) -> pb.CompareOperand:
    return pb.CompareOperand(profile_id=profile_id)


def by_audio(pcm: bytes, rate: int = 16000) -> pb.CompareOperand:
    return pb.CompareOperand(audio=audio(pcm, rate))


def test_enrolled_profile(allison: pb.VoiceProfile) -> None:
    assert allison.embedder == EMBEDDER
    assert len(allison.embedding) == 320
    speaker, prosody = np.array(allison.embedding[:256]), np.array(allison.embedding[256:])
    assert np.linalg.norm(speaker) == pytest.approx(1.0, abs=1e-4)
    assert np.linalg.norm(prosody) == pytest.approx(1.0, abs=1e-4)
    assert allison.version == 1
    assert allison.sample_count == 3
    assert allison.display_name == "Allison"
    assert allison.language_code == "en-US"
    total = sum(len(corpus.prompt_pcm16(n)) / 32000 for n in ENROLL)
    assert 0.6 * total < allison.speech_seconds <= total
    assert allison.create_time.seconds > 1_600_000_000
    assert 150 < allison.pitch_median_hertz < 230, "the core-sounds reader is a woman (about 185 Hz)"


def test_same_speaker_is_closer_than_another(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, allison: pb.VoiceProfile
) -> None:
    same = stub.Compare(
        pb.CompareRequest(first=by_profile(allison.profile_id), second=by_audio(corpus.prompt_pcm16(SAME_SPEAKER))),
        timeout=60,
    )
    other = stub.Compare(
        pb.CompareRequest(first=by_profile(allison.profile_id), second=by_audio(corpus.prompt_pcm16(*OTHER_SPEAKER))),
        timeout=60,
    )
    for label, result in (("same speaker", same), ("other speaker", other)):
        print(
            f"{label}: similarity {result.similarity:.3f} speaker {result.speaker_similarity:.3f} "
            f"prosody {result.prosody_similarity:.3f}"
        )
    assert same.speaker_similarity > other.speaker_similarity + 0.1
    assert same.similarity > other.similarity + 0.1
    assert same.similarity == pytest.approx(0.85 * same.speaker_similarity + 0.15 * same.prosody_similarity, abs=1e-4)
    assert -1.0 <= other.prosody_similarity <= 1.0


def test_compare_profile_with_itself(stub: profile_pb2_grpc.VoiceProfileServiceStub, allison: pb.VoiceProfile) -> None:
    result = stub.Compare(
        pb.CompareRequest(first=by_profile(allison.profile_id), second=by_profile(allison.profile_id)), timeout=60
    )
    assert result.similarity == pytest.approx(1.0, abs=1e-4)


def test_embed_is_deterministic_and_rate_independent(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, allison: pb.VoiceProfile
) -> None:
    pcm = corpus.prompt_pcm16(SAME_SPEAKER)
    first = stub.Embed(pb.EmbedRequest(audio=audio(pcm)), timeout=60)
    again = stub.Embed(pb.EmbedRequest(audio=audio(pcm)), timeout=60)
    assert first.embedder == EMBEDDER
    assert len(first.embedding) == 320
    assert np.allclose(first.embedding, again.embedding, atol=1e-5)
    assert 1.0 < first.speech_seconds <= len(pcm) / 32000

    wide = stub.Embed(pb.EmbedRequest(audio=audio(resample16(pcm, 48000), 48000)), timeout=60)
    speaker16, speaker48 = np.array(first.embedding[:256]), np.array(wide.embedding[:256])
    assert float(speaker16 @ speaker48) > 0.95
    assert wide.speech_seconds == pytest.approx(first.speech_seconds, abs=0.3)


def test_concurrent_embeds_agree(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    clips = [corpus.prompt_pcm16(n) for n in ("vm-intro", "conf-getpin", "queue-thankyou", "vm-goodbye")]
    serial = [stub.Embed(pb.EmbedRequest(audio=audio(c)), timeout=60).embedding for c in clips]
    calls = [stub.Embed.future(pb.EmbedRequest(audio=audio(c)), timeout=60) for c in clips * 2]
    for call, expected in zip(calls, serial * 2, strict=True):
        assert np.allclose(call.result().embedding, expected, atol=1e-5)


def test_enroll_from_8khz_audio_matches_the_speaker(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, allison: pb.VoiceProfile
) -> None:
    samples = [resample16(corpus.prompt_pcm16(n), 8000) for n in ENROLL]
    narrow = stub.Enroll(requests(f"narrow-{uuid.uuid4().hex[:8]}", samples, rate=8000), timeout=120).profile
    try:
        result = stub.Compare(
            pb.CompareRequest(first=by_profile(narrow.profile_id), second=by_profile(allison.profile_id)), timeout=60
        )
        assert result.speaker_similarity > 0.8
        assert narrow.sample_count == 3
    finally:
        stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=narrow.profile_id), timeout=30)


def test_generated_id_get_list_delete(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    samples = [corpus.prompt_pcm16(n) for n in ("vm-intro", "conf-getpin", "vm-theperson")]
    created = [enroll(stub, "", samples) for _ in range(2)]
    created.append(enroll(stub, f"zz-{uuid.uuid4().hex[:8]}", samples))
    ids = [p.profile_id for p in created]
    assert created[0].profile_id and created[0].profile_id != created[1].profile_id

    got = stub.GetProfile(pb.GetProfileRequest(profile_id=ids[0]), timeout=30).profile
    assert got == created[0]

    listed: list[pb.VoiceProfile] = []
    token, pages = "", 0
    while True:
        page = stub.ListProfiles(pb.ListProfilesRequest(page_size=2, page_token=token), timeout=30)
        assert len(page.profiles) <= 2
        listed.extend(page.profiles)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    listed_ids = [p.profile_id for p in listed]
    assert pages >= 2
    assert listed_ids == sorted(set(listed_ids))
    assert set(ids) <= set(listed_ids)
    assert all(len(p.embedding) == 0 for p in listed)
    assert next(p for p in listed if p.profile_id == ids[2]).sample_count == 3

    for profile_id in ids:
        stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=profile_id), timeout=30)
    err = rpc_error(stub.GetProfile, pb.GetProfileRequest(profile_id=ids[0]))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = rpc_error(stub.DeleteProfile, pb.DeleteProfileRequest(profile_id=ids[0]))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    remaining = stub.ListProfiles(pb.ListProfilesRequest(page_size=5000), timeout=30)
    assert not set(ids) & {p.profile_id for p in remaining.profiles}


def test_reenroll_replaces_profile(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    profile_id = f"replace-{uuid.uuid4().hex[:8]}"
    first = enroll(stub, profile_id, [corpus.prompt_pcm16(n) for n in ENROLL])
    second = enroll(
        stub, profile_id, [corpus.prompt_pcm16(n) for n in ("vm-intro", "conf-getpin", "vm-theperson", *ENROLL)]
    )
    got = stub.GetProfile(pb.GetProfileRequest(profile_id=profile_id), timeout=30).profile
    assert got.sample_count == 6 and got.embedding == second.embedding != first.embedding
    stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=profile_id), timeout=30)


def test_files_restart_and_foreign_embedder(tmp_path: Path) -> None:
    """Profiles live in .npz + .json files that a second server process reads."""
    samples = [corpus.prompt_pcm16(n) for n in ENROLL]
    with running("profile_server", "--data-dir", str(tmp_path)) as first_address, channel(first_address) as ch:
        first = profile_pb2_grpc.VoiceProfileServiceStub(ch)
        profile = enroll(first, "disk-check", samples)

        assert sorted(p.name for p in tmp_path.iterdir()) == ["disk-check.json", "disk-check.npz"]
        meta = json.loads((tmp_path / "disk-check.json").read_text())
        assert meta["version"] == 1 and meta["embedder"] == EMBEDDER and meta["dim"] == 320
        assert meta["sample_count"] == 3 and meta["profile_id"] == "disk-check"
        with np.load(tmp_path / "disk-check.npz") as arrays:
            assert np.allclose(arrays["embedding"], profile.embedding)
            assert arrays["audio"].dtype == np.int16
            assert list(arrays["sample_lengths"]) == [len(s) // 2 for s in samples]
            assert arrays["audio"].tobytes() == b"".join(samples)
        stored = ProfileStore(tmp_path).enrollment("disk-check")[1]
        assert [a.tobytes() for a in stored] == samples

        (tmp_path / ".half-written.json.abc.tmp").write_text("{")
        (tmp_path / "orphan.npz").write_bytes(b"")
        foreign = {**meta, "profile_id": "foreign", "embedder": "ecapa-192+prosody-64/v1", "dim": 256}
        foreign["speaker_dim"] = 192
        np.savez(tmp_path / "foreign.npz", embedding=np.ones(256, dtype=np.float32) / 16)
        (tmp_path / "foreign.json").write_text(json.dumps(foreign))

    with running("profile_server", "--data-dir", str(tmp_path)) as second_address, channel(second_address) as ch:
        second = profile_pb2_grpc.VoiceProfileServiceStub(ch)
        listed = second.ListProfiles(pb.ListProfilesRequest(), timeout=30)
        assert [p.profile_id for p in listed.profiles] == ["disk-check", "foreign"]
        assert second.GetProfile(pb.GetProfileRequest(profile_id="disk-check"), timeout=30).profile == profile
        enrolled = second.GetEnrollmentAudio(pb.GetEnrollmentAudioRequest(profile_id="disk-check"), timeout=30)
        assert [s.content for s in enrolled.samples] == samples
        assert {s.format.sample_rate_hertz for s in enrolled.samples} == {16000}
        assert enrolled.create_time == profile.create_time
        err = rpc_error(second.GetEnrollmentAudio, pb.GetEnrollmentAudioRequest(profile_id="nobody"))
        assert err.code() == grpc.StatusCode.NOT_FOUND

        err = rpc_error(
            second.Compare,
            pb.CompareRequest(first=by_profile("disk-check"), second=by_profile("foreign")),
        )
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "different embedders" in (err.details() or "")
        err = rpc_error(
            second.Compare,
            pb.CompareRequest(first=by_profile("foreign"), second=by_audio(samples[0])),
        )
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION

        second.DeleteProfile(pb.DeleteProfileRequest(profile_id="disk-check"), timeout=30)
        assert not (tmp_path / "disk-check.json").exists()
        assert not (tmp_path / "disk-check.npz").exists()


SPEECH = corpus.prompt_pcm16("auth-incorrect")
SHORT = SPEECH[32000 : 32000 + 9600]  # 0.3 s from the middle of a word
SILENCE = bytes(64000)  # 2 s
NOISE = noise(3.0, seed=0)


@pytest.mark.parametrize(
    ("messages", "code", "expected"),
    [
        pytest.param(list(requests("few", [SPEECH, SPEECH])), "INVALID_ARGUMENT", "at least 3", id="two-samples"),
        pytest.param(list(requests("none", [])), "INVALID_ARGUMENT", "at least 3", id="no-samples"),
        pytest.param([], "INVALID_ARGUMENT", "metadata", id="empty-stream"),
        pytest.param(list(requests("short", [SHORT] * 3)), "INVALID_ARGUMENT", "sample 1 has", id="short-speech"),
        pytest.param(
            list(requests("silent", [SPEECH, SPEECH, SILENCE])), "INVALID_ARGUMENT", "sample 3 has", id="silence"
        ),
        pytest.param(
            list(requests("loud", [SPEECH, SPEECH, noise(3.0, seed=3, level=0.5)])),
            "INVALID_ARGUMENT",
            "sample 3 has 0.00 s of speech",
            id="loud-noise",
        ),
        pytest.param(
            list(requests("x", [SPEECH] * 3))[1:], "INVALID_ARGUMENT", "first message must be metadata", id="no-meta"
        ),
        pytest.param(
            [*requests("x", [SPEECH]), *requests("x", [SPEECH, SPEECH])],
            "INVALID_ARGUMENT",
            "only be sent as the first",
            id="meta-twice",
        ),
        pytest.param(list(requests("bad id!", [SPEECH] * 3)), "INVALID_ARGUMENT", "profile_id", id="bad-id"),
        pytest.param(list(requests("a" * 65, [SPEECH] * 3)), "INVALID_ARGUMENT", "1 to 64", id="long-id"),
        pytest.param(
            list(requests("odd", [SPEECH, SPEECH + b"\x00", SPEECH])), "INVALID_ARGUMENT", "sample 2", id="odd-bytes"
        ),
        pytest.param(
            list(requests("empty", [SPEECH, b"", SPEECH])), "INVALID_ARGUMENT", "sample 2 is empty", id="empty"
        ),
        pytest.param(
            list(requests("rate", [SPEECH] * 3, rate=12345)), "INVALID_ARGUMENT", "sample rate", id="bad-rate"
        ),
        pytest.param(
            list(requests("lang", [SPEECH] * 3, language_code="english!")),
            "INVALID_ARGUMENT",
            "language code",
            id="bad-language",
        ),
    ],
)
def test_enroll_rejects(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, messages: list[pb.EnrollRequest], code: str, expected: str
) -> None:
    err = rpc_error(stub.Enroll, iter(messages))
    assert err.code() == getattr(grpc.StatusCode, code)
    assert expected in (err.details() or ""), err.details()


def test_odd_bytes_message_says_what_is_allowed(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    err = rpc_error(stub.Enroll, requests("odd", [SPEECH, SPEECH[:-1], SPEECH]))
    assert "even byte count" in (err.details() or "")
    err = rpc_error(stub.Enroll, requests("rate", [SPEECH] * 3, rate=12345))
    assert "16000" in (err.details() or "")


@pytest.mark.parametrize("sample", [noise(4.0, seed=7), SILENCE * 2], ids=["noise", "silence"])
def test_enrollment_without_speech_says_what_to_fix(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, sample: bytes
) -> None:
    profile_id = f"no-speech-{uuid.uuid4().hex[:8]}"
    err = rpc_error(stub.Enroll, requests(profile_id, [sample] * 3))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.details() or ""
    assert details.startswith("sample 1 has 0.00 s of speech;"), details
    assert "record at least 1.0 s of the speaker talking in each sample" in details
    assert "silence and noise do not count" in details
    err = rpc_error(stub.GetProfile, pb.GetProfileRequest(profile_id=profile_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_speech_in_noise_is_enrolled(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    samples = [with_noise(corpus.prompt_pcm16(n), snr_db=10.0, seed=seed) for seed, n in enumerate(ENROLL)]
    noisy = enroll(stub, f"noisy-{uuid.uuid4().hex[:8]}", samples)
    stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=noisy.profile_id), timeout=30)
    total = sum(len(s) / 32000 for s in samples)
    assert 0.6 * total < noisy.speech_seconds <= total


def test_rejected_enrollment_stores_nothing(stub: profile_pb2_grpc.VoiceProfileServiceStub) -> None:
    profile_id = f"rejected-{uuid.uuid4().hex[:8]}"
    rpc_error(stub.Enroll, requests(profile_id, [SPEECH, SPEECH, SILENCE]))
    err = rpc_error(stub.GetProfile, pb.GetProfileRequest(profile_id=profile_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("method", "request_message", "code", "expected"),
    [
        ("GetProfile", pb.GetProfileRequest(profile_id="no-such-profile"), "NOT_FOUND", "no-such-profile"),
        ("GetProfile", pb.GetProfileRequest(), "INVALID_ARGUMENT", "profile_id is required"),
        ("GetProfile", pb.GetProfileRequest(profile_id="../etc"), "INVALID_ARGUMENT", "invalid profile_id"),
        ("DeleteProfile", pb.DeleteProfileRequest(profile_id="no-such-profile"), "NOT_FOUND", "no-such-profile"),
        ("ListProfiles", pb.ListProfilesRequest(page_token="!!not-a-token"), "INVALID_ARGUMENT", "page_token"),
        ("ListProfiles", pb.ListProfilesRequest(page_size=-1), "INVALID_ARGUMENT", "page_size"),
        ("Embed", pb.EmbedRequest(), "INVALID_ARGUMENT", "audio is required"),
        ("Embed", pb.EmbedRequest(audio=audio(b"")), "INVALID_ARGUMENT", "empty"),
        ("Embed", pb.EmbedRequest(audio=audio(SILENCE)), "INVALID_ARGUMENT", "0.00 s of speech"),
        ("Embed", pb.EmbedRequest(audio=audio(NOISE)), "INVALID_ARGUMENT", "0.00 s of speech"),
        ("Embed", pb.EmbedRequest(audio=audio(SPEECH, 11025)), "INVALID_ARGUMENT", "sample rate"),
        ("Embed", pb.EmbedRequest(audio=audio_pb2.AudioInput(content=SPEECH)), "INVALID_ARGUMENT", "format"),
        (
            "Compare",
            pb.CompareRequest(first=by_profile("no-such-profile"), second=by_audio(SPEECH)),
            "NOT_FOUND",
            "no-such-profile",
        ),
        ("Compare", pb.CompareRequest(first=by_audio(SPEECH)), "INVALID_ARGUMENT", "second is required"),
        (
            "Compare",
            pb.CompareRequest(first=by_audio(SPEECH), second=by_audio(SPEECH[:-1])),
            "INVALID_ARGUMENT",
            "second.audio.content",
        ),
    ],
)
def test_requests_rejected(
    stub: profile_pb2_grpc.VoiceProfileServiceStub, method: str, request_message: object, code: str, expected: str
) -> None:
    err = rpc_error(getattr(stub, method), request_message)
    assert err.code() == getattr(grpc.StatusCode, code)
    assert expected in (err.details() or ""), err.details()
