"""TLS, mutual TLS and bearer tokens on real servers over sockets (common/security.py),
with certificates from `scripts/certs`."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from clients.launch import REPO, failed_start, running
from clients.speech import channel
from lingua.mt.v1 import mt_pb2, mt_pb2_grpc
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc

TOKEN = "s3cret-token-for-tests"
READER = "reader-token-without-audio-right"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", str(REPO / "scripts" / "certs"), str(out)], check=True, capture_output=True)
    assert (out / "server-key.pem").stat().st_mode & 0o077 == 0, "keys are owner-only"
    tokens = out / "tokens"
    tokens.write_text(f"{TOKEN} * orchestrator\n{READER} rpc,profiles.read console\n", encoding="utf-8")
    return out


def tls_flags(certs: Path, mutual: bool = True) -> list[str]:
    flags = ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server-key.pem")]
    if mutual:
        flags += ["--tls-client-ca", str(certs / "ca.pem")]
    return [*flags, "--auth-tokens", str(certs / "tokens")]


def client_env(certs: Path, token: str = TOKEN, cert: bool = True) -> dict[str, str]:
    env = {"LINGUA_TLS_CA": str(certs / "ca.pem"), "LINGUA_TOKEN": token}
    if cert:
        env |= {
            "LINGUA_TLS_CLIENT_CERT": str(certs / "client.pem"),
            "LINGUA_TLS_CLIENT_KEY": str(certs / "client-key.pem"),
        }
    return env


@pytest.fixture
def as_client(monkeypatch: pytest.MonkeyPatch, certs: Path) -> Iterator[Callable[..., None]]:
    """Sets this process's client credentials (what every client here reads)."""

    def use(**kwargs: object) -> None:
        for name in ("LINGUA_TLS_CA", "LINGUA_TOKEN", "LINGUA_TLS_CLIENT_CERT", "LINGUA_TLS_CLIENT_KEY"):
            monkeypatch.delenv(name, raising=False)
        for name, value in client_env(certs, **kwargs).items():  # type: ignore[arg-type]
            monkeypatch.setenv(name, value)

    use()
    yield use


@pytest.fixture(scope="module")
def mt_tls(certs: Path) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in client_env(certs).items():
            mp.setenv(name, value)  # for the launcher's health check
        with running("mt_server", *tls_flags(certs)) as address:
            yield address


def pairs(address: str) -> int:
    with channel(address) as ch:
        got = mt_pb2_grpc.TranslatorServiceStub(ch).ListLanguagePairs(mt_pb2.ListLanguagePairsRequest(), timeout=10)
    return len(got.pairs)


def refused(address: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        pairs(address)
    return caught.value


def test_mutual_tls_with_a_token_is_served(mt_tls: str, as_client: Callable[..., None]) -> None:
    assert pairs(mt_tls) > 10


def test_a_missing_or_unknown_token_is_unauthenticated(mt_tls: str, as_client: Callable[..., None]) -> None:
    as_client(token="not-a-token")
    error = refused(mt_tls)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "unknown bearer token" in (error.details() or "") and "not-a-token" not in (error.details() or "")


def test_no_client_certificate_or_plaintext_cannot_connect(
    mt_tls: str, as_client: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    as_client(cert=False)
    assert refused(mt_tls).code() == grpc.StatusCode.UNAVAILABLE, "mutual TLS: a client without a certificate"
    for name in ("LINGUA_TLS_CA", "LINGUA_TOKEN", "LINGUA_TLS_CLIENT_CERT", "LINGUA_TLS_CLIENT_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert refused(mt_tls).code() == grpc.StatusCode.UNAVAILABLE, "plaintext against TLS"


def test_tokens_need_tls() -> None:
    assert "tokens must not travel in clear" in failed_start("mt_server", "--auth-tokens", "/dev/null")


def test_profile_rights_are_scoped(
    certs: Path, as_client: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running("profile_server", "--data-dir", str(tmp_path), *tls_flags(certs, mutual=False)) as address:
        as_client(token=READER, cert=False)
        with channel(address) as ch:
            stub = profile_pb2_grpc.VoiceProfileServiceStub(ch)
            assert list(stub.ListProfiles(profile_pb2.ListProfilesRequest(), timeout=10).profiles) == []
            for call, request in [
                (stub.GetEnrollmentAudio, profile_pb2.GetEnrollmentAudioRequest(profile_id="someone")),
                (stub.DeleteProfile, profile_pb2.DeleteProfileRequest(profile_id="someone")),
            ]:
                with pytest.raises(grpc.RpcError) as caught:
                    call(request, timeout=10)
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
                assert "scope" in (caught.value.details() or "")
        as_client(cert=False)
        with channel(address) as ch, pytest.raises(grpc.RpcError) as caught:
            profile_pb2_grpc.VoiceProfileServiceStub(ch).GetEnrollmentAudio(
                profile_pb2.GetEnrollmentAudioRequest(profile_id="someone"), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, "the full token passes the check"
    logged = capsys.readouterr().err
    assert "refused to console: it lacks the profiles.audio scope" in logged, "refusals are logged by holder"
    assert TOKEN not in logged and READER not in logged, "tokens never reach the log"
