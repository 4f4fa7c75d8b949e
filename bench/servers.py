"""Per-server latency over real gRPC sockets, on the embedded engines.

    .venv/bin/python -m bench.servers [--runs N] [--out bench/results/servers.json]

STT: final result after end of speech, with core-sounds prompts streamed in
real time (20 ms chunks at 20 ms pace); end of speech is the last 20 ms frame
within 35 dB of the prompt's loudest frame. MT: unary Translate per sentence, each sentence once
(the server caches repeats).
TTS: first audio after the flush, and real-time factor. Profiles: Embed time
per second of audio.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from bench import report
from bench.report import pct
from clients.launch import running
from clients.speech import channel, linear16, synthesize, transcribe, translate
from corpus import EN_SET, prompt_pcm16, transcripts, word_errors
from lingua.audio.v1 import audio_pb2
from lingua.profile.v1 import profile_pb2, profile_pb2_grpc

EN_SENTENCES = [
    "Good morning, everyone.",
    "Can you hear me now?",
    "Let's start the meeting.",
    "The budget was approved last week.",
    "I will send you the report tomorrow.",
    "Thank you for your patience.",
]
ES_SENTENCES = [
    "Buenos días a todos.",
    "¿Me oyes ahora?",
    "Empecemos la reunión.",
    "El presupuesto se aprobó la semana pasada.",
    "Te enviaré el informe mañana.",
    "Gracias por su paciencia.",
]
MT_CASES = {
    ("en", "es"): EN_SENTENCES,
    ("es", "en"): ES_SENTENCES,
    ("en", "pt"): EN_SENTENCES,
    ("en", "fr"): EN_SENTENCES,
}
TTS_CASES = [
    ("en", "Thank you for joining the call. Let's get started."),
    ("es", "Gracias por unirse a la llamada. Empecemos."),
    ("fr", "Merci de participer à l'appel. Commençons."),
    ("de", "Danke, dass Sie dabei sind. Fangen wir an."),
]


def speech_end_s(pcm: bytes) -> float:
    """Seconds to the end of the last frame within 35 dB of the loudest frame."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    frames = x[: len(x) // 320 * 320].reshape(-1, 320)
    level = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-3)
    loud = np.nonzero(level > level.max() - 35)[0]
    return float((loud[-1] + 1) * 0.02)


def bench_stt(address: str, runs: int) -> dict:
    latencies: list[float] = []
    errors = words = 0
    for name in EN_SET[: max(runs, 1) * 2]:
        pcm = prompt_pcm16(name)
        result = transcribe(address, pcm, "en", realtime=True, interim=True)
        latencies.append(result.last_final_at() - (result.audio_start + speech_end_s(pcm)))
        e, n = word_errors(transcripts("en")[name], result.text)
        errors, words = errors + e, words + n
    return {
        "utterances": len(latencies),
        "final_after_speech_p50_ms": pct(latencies, 50) * 1000,
        "final_after_speech_p95_ms": pct(latencies, 95) * 1000,
        "wer": errors / max(words, 1),
    }


def bench_mt(address: str) -> dict:
    """Each sentence once: the server caches repeats, and a cache hit is not engine time."""
    out = {}
    translate(address, "Warm up.", "en", "es")
    for (src, tgt), sentences in MT_CASES.items():
        times, route = [], []
        for sentence in sentences:
            t0 = time.perf_counter()
            response = translate(address, sentence, src, tgt)
            times.append(time.perf_counter() - t0)
            route = list(response.route)
        out[f"{src}-{tgt}"] = {"p50_ms": pct(times, 50) * 1000, "p95_ms": pct(times, 95) * 1000, "route": route}
    return out


def bench_tts(address: str, runs: int) -> dict:
    out = {}
    for language, text in TTS_CASES:
        firsts, rtfs, voice = [], [], ""
        synthesize(address, text, language)
        for _ in range(runs):
            t0 = time.perf_counter()
            result = synthesize(address, text, language)
            total = time.perf_counter() - t0
            firsts.append(result.first_audio_s)
            rtfs.append(total / (len(result.pcm) / 32000))
            voice = result.voice_name
        out[language] = {
            "voice": voice,
            "first_audio_p50_ms": pct(firsts, 50) * 1000,
            "first_audio_p95_ms": pct(firsts, 95) * 1000,
            "rtf_p50": pct(rtfs, 50),
        }
    return out


def bench_profile(address: str, runs: int) -> dict:
    pcm = prompt_pcm16("auth-incorrect")
    seconds = len(pcm) / 32000
    request = profile_pb2.EmbedRequest(audio=audio_pb2.AudioInput(format=linear16(), content=pcm))
    times = []
    with channel(address) as ch:
        stub = profile_pb2_grpc.VoiceProfileServiceStub(ch)
        stub.Embed(request)
        for _ in range(runs):
            t0 = time.perf_counter()
            stub.Embed(request)
            times.append(time.perf_counter() - t0)
    return {
        "audio_s": seconds,
        "embed_p50_ms": pct(times, 50) * 1000,
        "ms_per_audio_s": pct(times, 50) * 1000 / seconds,
    }


def table(results: dict) -> str:
    rows = [("stage", "case", "p50 ms", "p95 ms", "note")]
    stt = results["stt"]
    rows.append(
        (
            "STT",
            f"final after end of speech ({stt['utterances']} utt.)",
            f"{stt['final_after_speech_p50_ms']:.0f}",
            f"{stt['final_after_speech_p95_ms']:.0f}",
            f"WER {stt['wer']:.3f}",
        )
    )
    for pair, r in results["mt"].items():
        rows.append(("MT", pair, f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", " > ".join(r["route"])))
    for lang, r in results["tts"].items():
        rows.append(
            (
                "TTS",
                f"first audio, {lang}",
                f"{r['first_audio_p50_ms']:.0f}",
                f"{r['first_audio_p95_ms']:.0f}",
                f"{r['voice']}, RTF {r['rtf_p50']:.2f}",
            )
        )
    p = results["profile"]
    rows.append(
        (
            "Profile",
            f"Embed {p['audio_s']:.1f} s audio",
            f"{p['embed_p50_ms']:.0f}",
            "",
            f"{p['ms_per_audio_s']:.0f} ms per audio second",
        )
    )
    return report.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case")
    parser.add_argument("--out", type=Path, default=Path("bench/results/servers.json"))
    args = parser.parse_args()
    with ExitStack() as stack:
        profile = stack.enter_context(running("profile_server", "--data-dir", str(Path(".state/bench-profiles"))))
        tts = stack.enter_context(running("tts_server", "--profile-server", profile))
        stt = stack.enter_context(running("stt_server"))
        mt = stack.enter_context(running("mt_server"))
        results = {
            "machine": report.machine(),
            "stt": bench_stt(stt, args.runs),
            "mt": bench_mt(mt),
            "tts": bench_tts(tts, args.runs),
            "profile": bench_profile(profile, args.runs),
        }
    print(table(results))
    report.write(args.out, results)


if __name__ == "__main__":
    main()
