"""The system under benchmark: the four servers and the orchestrator on the embedded
engines, every process exporting its spans to one in-process OTLP receiver, and the
speech the benchmark's speakers read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import psutil

from clients.launch import asterisk_script, running
from clients.otlp import Receiver
from clients.speech import enroll
from common.paths import state_dir
from corpus import prompt_pcm16, transcripts
from corpus.sets import spoken_prompts

LANGUAGES = ("en", "es")
"""The speakers' languages: core-sounds prompts with transcripts, read by different people."""
ENROLL = {lang: ["auth-incorrect", "conf-onlyperson", "pbx-invalid"] for lang in ("en", "es")}
MIN_S, MAX_S = 1.2, 6.0
"""Prompts this long are spoken turns (shorter are single words, longer are menus)."""


@dataclass
class Stack:
    """Addresses of the running system and the receiver its spans go to."""

    receiver: Receiver
    profile: str
    stt: str
    mt: str
    tts: str
    orchestrator: str
    asterisk: bool


@contextmanager
def stack(asterisk: bool) -> Iterator[Stack]:
    """Start everything (Asterisk too, if asked) and enroll the speakers' voices."""
    with Receiver() as receiver, ExitStack() as stack:
        env = receiver.env()
        if asterisk:
            asterisk_script("install")
            if "already running" not in asterisk_script("start"):
                stack.callback(asterisk_script, "stop")
        profile = stack.enter_context(
            running("profile_server", "--data-dir", str(state_dir() / "bench-profiles"), env=env)
        )
        tts = stack.enter_context(running("tts_server", "--profile-server", profile, env=env))
        stt = stack.enter_context(running("stt_server", env=env))
        mt = stack.enter_context(running("mt_server", env=env))
        # No participant limit: the capacity sweep is what finds where real time breaks.
        args = ["--stt", stt, "--mt", mt, "--tts", tts, "--metrics-port", "0", "--max-participants", "1000"]
        orchestrator = stack.enter_context(running("orchestrator", *args, *([] if asterisk else ["--no-ari"]), env=env))
        for language in LANGUAGES:
            audio = [prompt_pcm16(n, language) for n in ENROLL[language]]
            enroll(profile, speaker_id(language), audio, language, f"Bench speaker ({language})")
        yield Stack(receiver, profile, stt, mt, tts, orchestrator, asterisk)


def speaker_id(language: str, n: int = 0) -> str:
    """The caller-id (and voice profile id) of a benchmark speaker."""
    return f"bench-{language}" if n == 0 else f"bench-{language}-{n}"


def turns(language: str, count: int) -> list[str]:
    """count held-out prompts of a speaking turn's length, repeating if there are too few."""
    names = [
        n
        for n in spoken_prompts(language, "test")
        if n in transcripts(language) and MIN_S <= len(prompt_pcm16(n, language)) / 32000 <= MAX_S
    ]
    names = [n for n in names if n not in ENROLL[language]]
    return [names[i % len(names)] for i in range(count)]


SERVERS = ("profile_server", "tts_server", "stt_server", "mt_server", "orchestrator")


def processes() -> dict[str, list[psutil.Process]]:
    """The servers this process started, by module name, each with its own children (apertium-apy...)."""
    out: dict[str, list[psutil.Process]] = {}
    for child in psutil.Process().children():
        try:
            cmd = child.cmdline()
            if "-m" in cmd and cmd[cmd.index("-m") + 1] in SERVERS:
                out[cmd[cmd.index("-m") + 1]] = [child, *child.children(recursive=True)]
        except psutil.Error:
            continue
    return out


def _totals(procs: list[psutil.Process]) -> tuple[float, float]:
    """CPU seconds and resident bytes of a process tree (processes that ended count nothing)."""
    cpu = rss = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            cpu += times.user + times.system
            rss += proc.memory_info().rss
        except psutil.Error:
            continue
    return cpu, rss


def cpu_times() -> dict[str, float]:
    """Each server's CPU seconds so far (with its children)."""
    return {name: _totals(procs)[0] for name, procs in processes().items()}


def usage(before: dict[str, float], seconds: float) -> dict[str, dict[str, float]]:
    """CPU (% of one core, averaged since before) and resident memory of each server with its children."""
    out = {}
    for name, procs in processes().items():
        cpu, rss = _totals(procs)
        out[name] = {"cpu_pct": 100 * (cpu - before.get(name, 0.0)) / seconds, "rss_mb": rss / 2**20}
    return out
