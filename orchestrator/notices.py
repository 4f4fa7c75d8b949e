"""Spoken notices for SIP callers, who see no Join events: Asterisk's core-sounds prompts
(16 kHz G.722, from the Debian asterisk-core-sounds packages) in the caller's language,
else in English, queued into the caller's playback like one more speaker."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from common.audio import g722_file
from orchestrator.frames import Reframer

log = logging.getLogger(__name__)

SOUNDS = Path("/usr/share/asterisk/sounds")
SOURCE = "notice"
"""The playback source notices are queued under."""

STAGE_DOWN = "one-moment-please"


@cache
def prompt(name: str, language: str) -> tuple[bytes, ...]:
    """The prompt's 20 ms frames in language (English if it has none); empty if neither is installed."""
    for folder in (language, "en"):
        path = SOUNDS / folder / f"{name}.g722"
        if path.is_file():
            return tuple(Reframer().split(g722_file(path)))
    log.warning("no core-sounds prompt %s for %s or en: SIP callers are not told", name, language)
    return ()
