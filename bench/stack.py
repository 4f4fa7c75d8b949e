"""The system under benchmark: the four servers and the orchestrator on the embedded
engines, every process exporting its spans to one in-process OTLP receiver, and the
speech the benchmark's speakers read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import psutil

from clients.launch import asterisk_script, running
from clients.otlp import Receiver
from clients.speech import channel, enroll
from common.paths import state_dir
from corpus import prompt_pcm16, transcripts
from corpus.sets import spoken_prompts
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc

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
def stack(asterisk: bool, max_participants: int = 1000) -> Iterator[Stack]:
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
        # No participant limit by default: the capacity sweep is what finds where real time breaks.
        limit = str(max_participants)
        args = ["--stt", stt, "--mt", mt, "--tts", tts, "--metrics-port", "0", "--max-participants", limit]
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
    names = [n for n in names if n not in ENROLL.get(language, [])]
    return [names[i % len(names)] for i in range(count)]


def speech(language: str, names: Sequence[str], pause_s: float) -> bytes:
    """The prompts read one after another, each followed by pause_s of silence (16 kHz LINEAR16)."""
    gap = bytes(int(pause_s * 16000) * 2)
    return b"".join(prompt_pcm16(name, language) + gap for name in names)


def metrics(orchestrator: str) -> conference_pb2.GetMetricsResponse:
    """The orchestrator's GetMetrics answer."""
    with channel(orchestrator) as ch:
        return conference_pb2_grpc.ConferenceServiceStub(ch).GetMetrics(conference_pb2.GetMetricsRequest(), timeout=10)


SERVERS = ("profile_server", "tts_server", "stt_server", "mt_server", "orchestrator")
Trees = dict[str, list[psutil.Process]]
"""Process trees by name: each server (or Asterisk) with its children."""


def processes() -> Trees:
    """The servers this process started, by module name, each with its own children (apertium-apy...)."""
    out: Trees = {}
    for child in psutil.Process().children():
        try:
            cmd = child.cmdline()
            if "-m" in cmd and cmd[cmd.index("-m") + 1] in SERVERS:
                out[cmd[cmd.index("-m") + 1]] = [child, *child.children(recursive=True)]
        except psutil.Error:
            continue
    return out


def asterisk_tree() -> list[psutil.Process]:
    """Our Asterisk (from its pid file) with its children, or [] when it is not running."""
    try:
        proc = psutil.Process(int((state_dir() / "asterisk" / "asterisk.pid").read_text()))
        return [proc, *proc.children(recursive=True)] if "asterisk" in " ".join(proc.cmdline()) else []
    except (OSError, ValueError, psutil.Error):
        return []


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


def cpu_times(trees: Trees | None = None) -> dict[str, float]:
    """Each server's CPU seconds so far (with its children); trees: other processes than `processes()`."""
    return {name: _totals(procs)[0] for name, procs in (trees or processes()).items()}


def usage(before: dict[str, float], seconds: float, trees: Trees | None = None) -> dict[str, dict[str, float]]:
    """CPU (% of one core, averaged since before) and resident memory of each server with its children."""
    out = {}
    for name, procs in (trees or processes()).items():
        cpu, rss = _totals(procs)
        out[name] = {"cpu_pct": 100 * (cpu - before.get(name, 0.0)) / seconds, "rss_mb": rss / 2**20}
    return out
