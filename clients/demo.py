"""The demo: an English speaker heard in Spanish, in a voice matched to theirs.

    scripts/demo            (set-up, then this)
    .venv/bin/python -m clients.demo [--listener es] [--out .state/demo/listener-es.wav]

Starts the four servers on the embedded engines, enrolls the speaker's voice
profile from three recordings, streams three more of the speaker's prompts in
real time to speech-to-text, translates each final and synthesizes it in the
voice nearest to the speaker. Prints live captions and a latency table and
writes what the listener heard to a WAV file.
"""

from __future__ import annotations

import argparse
import time
import wave
from contextlib import ExitStack
from pathlib import Path

from clients.launch import running
from clients.speech import enroll, synthesize, transcribe, translate
from common.paths import state_dir
from corpus import prompt_pcm16, transcripts

ENROLL = ["auth-incorrect", "conf-onlyperson", "pbx-invalid"]
SPEAK = ["conf-getpin", "vm-nobodyavail", "queue-thankyou"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listener", default="es", help="listener's language")
    parser.add_argument("--out", type=Path, help="WAV of what the listener heard")
    args = parser.parse_args()
    out = args.out or state_dir() / "demo" / f"listener-{args.listener}.wav"

    with ExitStack() as stack:
        print("starting servers (first start prepares model caches)...", flush=True)
        profile = stack.enter_context(running("profile_server", "--data-dir", str(state_dir() / "profiles")))
        tts = stack.enter_context(running("tts_server", "--profile-server", profile))
        stt = stack.enter_context(running("stt_server"))
        mt = stack.enter_context(running("mt_server"))

        voice = enroll(profile, "demo-speaker", [prompt_pcm16(n) for n in ENROLL], "en", "Demo speaker")
        print(f"enrolled profile {voice.profile_id}: {voice.speech_seconds:.1f} s of speech, {voice.embedder}\n")

        heard: list[bytes] = []
        rows = []
        for name in SPEAK:
            said = transcribe(stt, prompt_pcm16(name), "en", realtime=True)
            for final in said.finals:
                t_final = time.perf_counter()
                translated = translate(mt, final.transcript, "en", args.listener)
                t_mt = time.perf_counter()
                spoken = synthesize(tts, translated.text, args.listener, profile_id=voice.profile_id)
                print(f"[en] {final.transcript}\n[{args.listener}] {translated.text}   (voice {spoken.voice_name})")
                heard.append(spoken.pcm + b"\x00" * 16000)
                rows.append((name, t_final - said.audio_end, t_mt - t_final, spoken.first_audio_s))
            print(f"     reference: {transcripts('en')[name]}\n")

    print(f"{'prompt':<16} {'STT final':>10} {'MT':>8} {'TTS first':>10}   (ms; STT from end of audio)")
    for name, stt_s, mt_s, tts_s in rows:
        print(f"{name:<16} {stt_s * 1000:>10.0f} {mt_s * 1000:>8.0f} {tts_s * 1000:>10.0f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(heard))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
