"""How close the listener's voice is to the speaker's, with and without the shift toward the speaker's profile.

    .venv/bin/python -m bench.voice_shift [--sentences N]

Speakers: the core-sounds readers of en, es, fr and it (real people, each enrolled
from three prompts), and, because every core-sounds reader is a woman, two men
stood in by neural voices trained on one man's recordings each (Piper joe, and
Kokoro jm_kumo reading the dev sentences). For each speaker and listener language,
the TTS server speaks held-out sentences with voice_profile_id set; the profile
server's Compare scores what the listener hears against the speaker's profile.
Unshifted (--no-voice-shift) and with the shift applied from each of SHIFT_FROM
semitones apart (--voice-shift-min-semitones), on the dev sentences; the best
setting on dev is then compared with the unshifted voice on held-out sentences.
Also times the shift itself per 20 ms frame. Prints a table, writes
bench/results/voice_shift.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from bench import report
from clients.launch import running
from clients.speech import channel, enroll, linear16, synthesize
from corpus import prompt_pcm16
from corpus.sets import Split, sentences, spoken_prompts
from lingua.audio.v1 import audio_pb2
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc
from tts_server.shift import shift

LISTENERS = ("en", "es", "fr", "de", "it", "pt")
HUMAN = ("en", "es", "fr", "it")
SHIFT_FROM = (0.0, 4.0, 8.0)
"""Pitch distances (semitones) from which the shift is tried."""
STAND_INS = {"piper-joe": ("en", "en_US-joe-medium"), "kokoro-kumo": ("en", "jm_kumo")}
"""Male stand-in speaker -> (language, the voice that reads their enrollment)."""


def enroll_speakers(profile: str, tts: str) -> dict[str, tuple[str, float]]:
    """Enroll every speaker; name -> (language, median pitch Hz)."""
    out = {}
    for language in HUMAN:
        samples = [prompt_pcm16(name, language) for name in spoken_prompts(language, "dev")[:3]]
        made = enroll(profile, f"core-{language}", samples, language)
        out[f"core-{language}"] = (language, made.pitch_median_hertz)
    for name, (language, voice) in STAND_INS.items():
        samples = [synthesize(tts, text, language, voice=voice).pcm for text in sentences(language, "dev")[:4]]
        made = enroll(profile, name, samples, language)
        out[name] = (language, made.pitch_median_hertz)
    return out


def similarity(profile: str, profile_id: str, pcm: bytes) -> tuple[float, float]:
    """(overall, speaker-vector) similarity of audio to a stored profile."""
    request = profile_pb2.CompareRequest(
        first=profile_pb2.CompareOperand(profile_id=profile_id),
        second=profile_pb2.CompareOperand(audio=audio_pb2.AudioInput(format=linear16(), content=pcm)),
    )
    with channel(profile) as ch:
        got = profile_pb2_grpc.VoiceProfileServiceStub(ch).Compare(request, timeout=120)
    return got.similarity, got.speaker_similarity


def measure(
    profile: str, tts: str, speakers: dict[str, tuple[str, float]], count: int, split: Split
) -> dict[str, dict]:
    """speaker/listener language -> voice and mean similarities over the split's sentences."""
    out = {}
    for speaker, (source, _) in speakers.items():
        for language in LISTENERS:
            if language == source:
                continue
            spoken = [synthesize(tts, t, language, profile_id=speaker) for t in sentences(language, split)[:count]]
            scores = [similarity(profile, speaker, s.pcm) for s in spoken]
            out[f"{speaker}/{language}"] = {
                "voice": spoken[0].voice_name,
                "similarity": float(np.mean([s[0] for s in scores])),
                "speaker_similarity": float(np.mean([s[1] for s in scores])),
            }
    return out


def shift_cost(tts: str) -> dict[str, float]:
    """Milliseconds of shifting per 20 ms frame of audio (pitch x0.6, formants x0.87)."""
    pcm = b"".join(synthesize(tts, t, "es").pcm for t in sentences("es", "test")[:10])
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    began = time.perf_counter()
    shift(audio, 16000, 0.6, 0.87)
    took = time.perf_counter() - began
    frames = len(audio) / 320
    return {"audio_s": len(audio) / 16000, "ms_per_frame": 1000 * took / frames}


def mean(scores: dict[str, dict]) -> float:
    return float(np.mean([v["similarity"] for v in scores.values()]))


def table(results: dict) -> str:
    rows = [("speaker", "Hz", "listener", "voice", "unshifted sim.", "shifted sim.", "unshifted spk.", "shifted spk.")]
    for key, shifted in results["test"]["shifted"].items():
        speaker, language = key.split("/")
        plain = results["test"]["unshifted"][key]
        rows.append(
            (
                speaker,
                f"{results['speakers'][speaker][1]:.0f}",
                language,
                shifted["voice"],
                f"{plain['similarity']:.3f}",
                f"{shifted['similarity']:.3f}",
                f"{plain['speaker_similarity']:.3f}",
                f"{shifted['speaker_similarity']:.3f}",
            )
        )
    test = results["test"]
    rows.append(("mean", "", "", "", f"{mean(test['unshifted']):.3f}", f"{mean(test['shifted']):.3f}", "", ""))
    dev = ", ".join(f"{name} {score:.3f}" for name, score in results["dev_means"].items())
    cost = results["shift_cost"]
    frame = f"{cost['ms_per_frame']:.3f} ms per 20 ms frame ({cost['audio_s']:.1f} s of audio)"
    chosen = results["chosen"]
    return report.table(rows) + f"\n\nheld out, shifted = {chosen}; dev means: {dev}\nshift cost: {frame}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=5, help="held-out sentences per speaker and listener")
    parser.add_argument("--out", type=Path, default=Path("bench/results/voice_shift.json"))
    args = parser.parse_args()
    results: dict = {"machine": report.machine()}
    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lingua-shift-")))
        profile = stack.enter_context(running("profile_server", "--data-dir", str(data)))
        settings = {"unshifted": ["--no-voice-shift"]}
        settings.update({f"shift from {s:g} st": ["--voice-shift-min-semitones", f"{s:g}"] for s in SHIFT_FROM})
        dev: dict[str, dict] = {}
        for name, flags in settings.items():
            with running("tts_server", "--profile-server", profile, *flags) as tts:
                if "speakers" not in results:
                    results["speakers"] = enroll_speakers(profile, tts)
                    results["shift_cost"] = shift_cost(tts)
                dev[name] = measure(profile, tts, results["speakers"], args.sentences, "dev")
        results["dev_means"] = {name: mean(scores) for name, scores in dev.items()}
        chosen = max(results["dev_means"], key=lambda name: results["dev_means"][name])
        results["chosen"] = chosen
        results["test"] = {}
        for kind, name in (("unshifted", "unshifted"), ("shifted", chosen)):
            with running("tts_server", "--profile-server", profile, *settings[name]) as tts:
                results["test"][kind] = measure(profile, tts, results["speakers"], args.sentences, "test")
    print(table(results))
    report.write(args.out, results)


if __name__ == "__main__":
    main()
