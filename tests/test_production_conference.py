"""A conference on the production voice stack: ECAPA profiles and XTTS cloning, tiny random-weight models.

Ana enrolls with the ecapa profile server and joins in English with her profile;
Beto listens in Spanish. The orchestrator hands Ana's profile to tts_server
--engine xtts, which clones her voice from her enrollment audio: Beto's
translation is spoken as profile:<Ana>, conditioned once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.models import ecapa, xtts
from clients.conference import Participant
from clients.launch import running
from clients.speech import enroll
from common.models import HUB_OFFLINE
from corpus import prompt_pcm16
from tests.conftest import wait_for

ENROLL = ("auth-incorrect", "conf-onlyperson", "pbx-invalid")
PROMPT = "conf-getpin"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, stt_address: str, mt_address: str
) -> Iterator[tuple[str, str, Path]]:
    """(orchestrator address, Ana's profile id, the TTS state folder) on the production voice engines."""
    models = tmp_path_factory.mktemp("models")
    state = tmp_path_factory.mktemp("state")
    env = {**HUB_OFFLINE, "LINGUA_STATE_DIR": str(state)}
    ecapa_dir = ecapa.write_model(models / "ecapa-voxceleb")
    xtts_dir = xtts.write_model(models / "xtts-v2")
    profile_args = ["--engine", "ecapa", "--model-dir", str(ecapa_dir), "--data-dir", str(state / "profiles")]
    with running("profile_server", *profile_args, env=env) as profile:
        ana = enroll(profile, "ana", [prompt_pcm16(n) for n in ENROLL], "en", "Ana")
        assert ana.embedder.startswith("speechbrain-ecapa-192")
        tts_args = ["--engine", "xtts", "--model-dir", str(xtts_dir), "--profile-server", profile]
        with (
            running("tts_server", *tts_args, env=env) as tts,
            running("orchestrator", "--no-ari", "--stt", stt_address, "--mt", mt_address, "--tts", tts) as address,
        ):
            yield address, ana.profile_id, state


def test_listener_hears_the_speaker_cloned(stack: tuple[str, str, Path], capfd: pytest.CaptureFixture[str]) -> None:
    address, profile_id, state = stack
    beto = Participant(address, "Beto", "es")
    ana = Participant(address, "Ana", "en", profile_id)
    try:
        assert wait_for(lambda: ana.participant_id and beto.participant_id, 10), "join not confirmed"
        ana.say(prompt_pcm16(PROMPT) + bytes(32000 * 2))
        assert wait_for(ana.idle, 60)
        spoke = wait_for(lambda: any(c.is_final and c.language_code == "es" for c in beto.captions), 60)
        assert spoke, beto.captions
        time.sleep(3)
        recording = np.frombuffer(beto.recording(), dtype="<i2")
        assert ana.error is None and beto.error is None, (ana.error, beto.error)
    finally:
        ana.leave()
        beto.leave()
    log = "".join(capfd.readouterr())
    voiced = np.count_nonzero(recording) / 16000
    print(f"Beto heard {voiced:.2f} s of non-silent audio out of {len(recording) / 16000:.2f} s")
    assert voiced >= 0.5, f"Beto heard {voiced:.2f} s of audio, not the translation (random weights speak softly)"
    assert f"with voice profile:{profile_id}" in log, "the translation was not spoken in Ana's cloned voice"
    assert f"latents for profile {profile_id}: cache miss" in log
    assert len(list((state / "cache" / "xtts-latents").glob(f"{profile_id}-*.npz"))) == 1
