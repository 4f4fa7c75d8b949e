"""Session fixtures: each server runs once, as a real process, for all tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clients.speech import channel as channel
from tests.servers import running


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
