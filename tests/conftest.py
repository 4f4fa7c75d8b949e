"""Session fixtures: each server runs once, as a real process, for all tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clients.launch import asterisk_script, running
from clients.speech import channel as channel
from common.paths import state_dir
from common.ports import free_port


@pytest.fixture(scope="session")
def profile_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("profiles")
    with running("profile_server", "--data-dir", str(data)) as address:
        yield address


@pytest.fixture(scope="session")
def stt_address() -> Iterator[str]:
    with running("stt_server") as address:
        yield address


@pytest.fixture(scope="session")
def mt_address() -> Iterator[str]:
    with running("mt_server") as address:
        yield address


@pytest.fixture(scope="session")
def tts_address(profile_address: str) -> Iterator[str]:
    with running("tts_server", "--profile-server", profile_address) as address:
        yield address


@pytest.fixture(scope="session")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def orchestrator_address(stt_address: str, mt_address: str, tts_address: str, metrics_port: int) -> Iterator[str]:
    """An orchestrator with no Asterisk: participants join over Conference.Join.

    Each stage lists a dead server first, so every test through it also proves failover.
    """
    dead = "127.0.0.1:9"
    args = [
        "--no-ari",
        "--stt",
        f"{dead},{stt_address}",
        "--mt",
        f"{dead},{mt_address}",
        "--tts",
        f"{dead},{tts_address}",
    ]
    with running("orchestrator", *args, "--metrics-port", str(metrics_port)) as address:
        yield address


@pytest.fixture(scope="session")
def asterisk() -> Iterator[Path]:
    """Our real Asterisk, installed if needed and running for the session; yields its state folder."""
    asterisk_script("install")
    started = "already running" not in asterisk_script("start")
    try:
        yield state_dir() / "asterisk"
    finally:
        if started:
            asterisk_script("stop", timeout=60)


def wait_for(condition: Callable[[], object], timeout: float) -> bool:
    """Poll condition until it is true or timeout seconds pass; whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
