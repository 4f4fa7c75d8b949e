"""Profile storage on real servers: owner-only files (the profile server's and the XTTS latents TTS
servers clone from them), and deletion that reaches every file made from a profile (its own files,
half-written ones, the latents)."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import corpus
from clients.launch import running
from common import profile_cache
from lingua.profile.v1 import profile_pb2 as pb
from lingua.profile.v1 import profile_pb2_grpc
from lingua.tts.v1 import tts_pb2_grpc
from tests.conftest import channel
from tests.test_profile import ENROLL, enroll, rpc_error
from tests.test_tts import config, flush, speak, text

Private = tuple[profile_pb2_grpc.VoiceProfileServiceStub, Path, str]


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    """(stub, state folder, address) of a server on a state of its own whose profile folder and a file in it were
    world-readable."""
    state = tmp_path_factory.mktemp("state")
    data = state / "profiles"
    data.mkdir()
    data.chmod(0o755)
    (data / "legacy.npz").write_bytes(b"")
    (data / "legacy.npz").chmod(0o644)
    env = {"LINGUA_STATE_DIR": str(state)}
    with running("profile_server", "--data-dir", str(data), env=env) as address, channel(address) as ch:
        yield profile_pb2_grpc.VoiceProfileServiceStub(ch), state, address


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def traces(state: Path, profile_id: str, other: str = "") -> list[Path]:
    """Files under state naming profile_id in their name or content (mentions of the other profile's id aside)."""
    found = []
    for path in sorted(state.rglob("*")):
        if path.is_file():
            content = path.name.encode() + b"/" + path.read_bytes()
            if profile_id.encode() in (content.replace(other.encode(), b"") if other else content):
                found.append(path)
    return found


def test_profile_files_are_owner_only(private: Private) -> None:
    stub, state, _ = private
    data = state / "profiles"
    assert mode(data) == 0o700, "the folder was not made owner-only at start-up"
    assert mode(data / "legacy.npz") == 0o600, "an existing file was not made owner-only at start-up"
    for _ in range(2):  # a new profile, then its replacement
        enroll(stub, "private", [corpus.prompt_pcm16(n) for n in ENROLL])
        modes = {p.name: mode(p) for p in data.iterdir()}
        assert modes == {"legacy.npz": 0o600, "private.json": 0o600, "private.npz": 0o600}
        assert mode(data) == 0o700
    stub.DeleteProfile(pb.DeleteProfileRequest(profile_id="private"), timeout=30)


def test_delete_leaves_no_file_of_the_profile(private: Private) -> None:
    """Its own files, a write it left half done, and XTTS latents cached in the state folder."""
    stub, state, _ = private
    profile_id = f"gone-{uuid.uuid4().hex[:8]}"
    keeper = f"{profile_id}-keeper"  # an id that starts alike: its files stay
    latents = state / "cache" / profile_cache.XTTS_LATENTS
    latents.mkdir(parents=True)
    for owner in (profile_id, keeper):
        created = enroll(stub, owner, [corpus.prompt_pcm16(n) for n in ENROLL])
        key = profile_cache.key(owner, created.create_time.ToJsonString(), "model-fingerprint")
        (latents / f"{key}.npz").write_bytes(b"latents")
        (latents / f".{key}.npz.k2j3h4x_.tmp").write_bytes(b"half-written latents")
    (state / "profiles" / f".{profile_id}.npz.a1b2c3d4.tmp").write_bytes(b"half-written audio")
    assert len(traces(state, profile_id, keeper)) == 5

    stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=profile_id), timeout=30)
    assert traces(state, profile_id, keeper) == []
    assert len(traces(state, keeper)) == 4, "another profile's files went too"
    err = rpc_error(stub.GetProfile, pb.GetProfileRequest(profile_id=profile_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=keeper), timeout=30)
    assert traces(state, keeper) == []


@pytest.fixture(scope="module")
def xtts_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny XTTS model with random weights (torch and coqui-tts load only for the test that needs it)."""
    from bench.models.xtts import TINY, write_model

    return write_model(tmp_path_factory.mktemp("models") / "xtts-v2", TINY)


def speaks_as(address: str, profile_id: str) -> grpc.StatusCode:
    """The status of a TTS server asked to speak in the profile's cloned voice."""
    with channel(address) as ch:
        try:
            speak(tts_pb2_grpc.TextToSpeechServiceStub(ch), [config("en", profile=profile_id), text("Hi."), flush()])
        except grpc.RpcError as err:
            return err.code()
    return grpc.StatusCode.OK


def test_delete_reaches_the_latents_tts_servers_cloned(private: Private, xtts_model: Path, tmp_path: Path) -> None:
    """A TTS server on the same state folder loses them at once, one on another when it next asks for the profile."""
    stub, state, address = private
    args = ("tts_server", "--engine", "xtts", "--model-dir", str(xtts_model), "--profile-server", address)
    profile_id = f"cloned-{uuid.uuid4().hex[:8]}"
    latents = f"cache/{profile_cache.XTTS_LATENTS}/{profile_id}-"
    with (
        running(*args, env={"LINGUA_STATE_DIR": str(state)}) as near,
        running(*args, env={"LINGUA_STATE_DIR": str(tmp_path)}) as far,
    ):
        enroll(stub, profile_id, [corpus.prompt_pcm16(n) for n in ENROLL])
        assert speaks_as(near, profile_id) == speaks_as(far, profile_id) == grpc.StatusCode.OK
        near_files = [str(p.relative_to(state)) for p in traces(state, profile_id)]
        far_files = [str(p.relative_to(tmp_path)) for p in traces(tmp_path, profile_id)]
        assert [f.startswith(latents) for f in near_files] == [True, False, False], near_files  # + json, npz
        assert [f.startswith(latents) for f in far_files] == [True], far_files

        stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=profile_id), timeout=30)
        assert traces(state, profile_id) == []
        assert len(traces(tmp_path, profile_id)) == 1, "a state folder the profile server does not know was reached"
        assert speaks_as(far, profile_id) == grpc.StatusCode.NOT_FOUND
        assert traces(tmp_path, profile_id) == []


def test_cloned_latents_are_owner_only(private: Private, xtts_model: Path, tmp_path: Path) -> None:
    """Latents a TTS server writes are 0600 in a 0700 folder, and ones an older version left readable are fixed."""
    stub, _, address = private
    latents = tmp_path / "cache" / profile_cache.XTTS_LATENTS
    latents.mkdir(parents=True)
    latents.chmod(0o755)
    legacy = latents / f"{profile_cache.key('legacy', 'v1')}.npz"
    legacy.write_bytes(b"latents an older version wrote world-readable")
    legacy.chmod(0o644)
    profile_id = f"owner-only-{uuid.uuid4().hex[:8]}"
    args = ("tts_server", "--engine", "xtts", "--model-dir", str(xtts_model), "--profile-server", address)
    with running(*args, env={"LINGUA_STATE_DIR": str(tmp_path)}) as tts:
        assert mode(latents) == 0o700 and mode(legacy) == 0o600, "not made owner-only at start-up"
        enroll(stub, profile_id, [corpus.prompt_pcm16(n) for n in ENROLL])
        assert speaks_as(tts, profile_id) == grpc.StatusCode.OK
    cloned = profile_cache.files(latents, profile_id)
    assert len(cloned) == 1, cloned
    modes = {p.name: mode(p) for p in latents.iterdir()}
    assert len(modes) == 3, modes  # the legacy file, the default voice's latents, the profile's
    assert set(modes.values()) == {0o600}, modes
    assert mode(latents) == 0o700
    stub.DeleteProfile(pb.DeleteProfileRequest(profile_id=profile_id), timeout=30)
