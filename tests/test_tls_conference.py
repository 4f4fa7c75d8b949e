"""The whole conference over mutual TLS with bearer tokens, on real processes and sockets.

Certificates from `scripts/certs`; the four servers and the orchestrator all serve TLS, require
client certificates from the CA and check tokens. The servers' own clients (the orchestrator's
stage clients, the TTS server's profile client) hold the servers' token, the participants one
with only the `rpc` scope, all through the LINGUA_TLS_* and LINGUA_TOKEN variables. An English
speaker is heard translated by a Spanish listener; a participant without a client certificate,
and one without a token, are refused at the orchestrator.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import grpc
import pytest

from clients.conference import Participant
from clients.launch import REPO, running
from corpus import prompt_pcm16, transcripts, wer
from tests.conftest import wait_for
from tests.test_conference import finals
from tests.test_security import client_env, tls_flags

SERVERS_TOKEN = "token-of-the-servers-for-tests"
PARTICIPANT_TOKEN = "token-of-a-participant-for-tests"
CLIENT_VARIABLES = ("LINGUA_TLS_CA", "LINGUA_TLS_CLIENT_CERT", "LINGUA_TLS_CLIENT_KEY", "LINGUA_TOKEN")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, server and client certificates, and the token file (tls_flags reads it as <certs>/tokens)."""
    out = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", str(REPO / "scripts" / "certs"), str(out)], check=True, capture_output=True)
    lines = [f"{SERVERS_TOKEN} * lingua-servers", f"{PARTICIPANT_TOKEN} rpc participant"]
    (out / "tokens").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def orchestrator(certs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The orchestrator's address, with every server behind mutual TLS and tokens."""
    servers = client_env(certs, token=SERVERS_TOKEN)
    flags = tls_flags(certs)
    with pytest.MonkeyPatch.context() as mp, ExitStack() as stack:
        for name, value in servers.items():
            mp.setenv(name, value)  # the launcher's health checks go over mutual TLS too

        def start(module: str, *args: str) -> str:
            return stack.enter_context(running(module, *args, *flags, env=servers))

        profiles = start("profile_server", "--data-dir", str(tmp_path_factory.mktemp("profiles")))
        stt, mt = start("stt_server"), start("mt_server")
        tts = start("tts_server", "--profile-server", profiles)
        yield start("orchestrator", "--no-ari", "--stt", stt, "--mt", mt, "--tts", tts, "--metrics-port", "0")


@pytest.fixture
def as_participant(monkeypatch: pytest.MonkeyPatch, certs: Path) -> Iterator[pytest.MonkeyPatch]:
    """This process's client variables set to a participant's (with certificate and token); change them with it."""
    for name in CLIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in client_env(certs, token=PARTICIPANT_TOKEN).items():
        monkeypatch.setenv(name, value)
    yield monkeypatch


def refusal(address: str) -> grpc.StatusCode:
    """How the orchestrator refuses a Join from a participant with this process's client variables."""
    participant = Participant(address, "Eve", "en")
    try:
        assert wait_for(lambda: participant.error is not None, 30), "the Join was not refused"
        assert participant.error is not None and not participant.participant_id
        return participant.error.code()
    finally:
        participant.leave()


def test_translation_arrives_over_mutual_tls(orchestrator: str, as_participant: pytest.MonkeyPatch) -> None:
    beto, ana = Participant(orchestrator, "Beto", "es"), Participant(orchestrator, "Ana", "en")
    try:
        assert wait_for(lambda: ana.participant_id and beto.participant_id, 30), (ana.error, beto.error)
        ana.say(prompt_pcm16("conf-getpin") + bytes(64000))
        assert wait_for(lambda: finals(beto, "es", ana.participant_id), 60), (beto.captions, beto.error)
        english = finals(ana, "en", ana.participant_id)
        print("Ana said:", english, "\nBeto was told:", finals(beto, "es", ana.participant_id))
        assert wer(transcripts("en")["conf-getpin"], " ".join(english)) < 0.35
        assert ana.error is None and beto.error is None
    finally:
        ana.leave()
        beto.leave()


def test_a_participant_without_a_client_certificate_is_refused(
    orchestrator: str, as_participant: pytest.MonkeyPatch
) -> None:
    for name in ("LINGUA_TLS_CLIENT_CERT", "LINGUA_TLS_CLIENT_KEY"):
        as_participant.delenv(name)
    assert refusal(orchestrator) == grpc.StatusCode.UNAVAILABLE, "mutual TLS: no handshake without a certificate"


def test_a_participant_without_a_token_is_refused(orchestrator: str, as_participant: pytest.MonkeyPatch) -> None:
    as_participant.delenv("LINGUA_TOKEN")
    assert refusal(orchestrator) == grpc.StatusCode.UNAUTHENTICATED
