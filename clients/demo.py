"""The demo conference: real Asterisk, the four servers and the orchestrator on the
embedded engines, and two real SIP callers.

    scripts/demo                 set-up, then this
    scripts/demo --serve         leave everything running for softphones
    .venv/bin/python -m clients.demo [--listener es] [--out .state/demo/listener-es.wav]

The scripted English caller (caller-id `demo-speaker`, whose voice profile is
enrolled first) dials 1001 and reads three prompts (--prompts N for more); the listener dials the
extension of their language (1002 Spanish) and records what they hear. Live
captions are printed as they happen, then a latency table, and the listener's
audio is written to a WAV file.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import grpc
import numpy as np

from clients import sip
from clients.launch import asterisk_script, running
from clients.speech import channel, enroll
from common.paths import state_dir
from corpus import EN_SET, prompt_pcm16
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc

ENROLL = ["auth-incorrect", "conf-onlyperson", "pbx-invalid"]
SPEAK = ["conf-getpin", "vm-nobodyavail", "queue-thankyou"]
PAUSE_S = 2.5
"""Silence after each prompt: the speaker waits for the translation, as in a conversation."""
EXTENSIONS = {"en": "1001", "es": "1002", "fr": "1003", "pt": "1004", "it": "1005", "de": "1006", "ca": "1007"}


def print_captions(address: str) -> None:
    """Print every final caption as it arrives (runs in a thread until the channel closes)."""
    with channel(address) as ch:
        stub = conference_pb2_grpc.ConferenceServiceStub(ch)
        try:
            for response in stub.WatchCaptions(conference_pb2.WatchCaptionsRequest()):
                if response.HasField("stage_status"):
                    print(f"  [{response.stage_status.stage}] {response.stage_status.message}", flush=True)
                c = response.caption
                if c.is_final:
                    lang = c.language_code if c.language_code == c.source_language_code else f"-> {c.language_code}"
                    print(f"  [{c.speaker_name.split()[0]} {lang}] {c.text}", flush=True)
        except grpc.RpcError:
            pass


def latency_table(address: str) -> tuple[str, dict[str, object]]:
    """The orchestrator's latency figures, as a printable table and as a dict for JSON."""
    with channel(address) as ch:
        got = conference_pb2_grpc.ConferenceServiceStub(ch).GetMetrics(conference_pb2.GetMetricsRequest())
    rows = [f"{'measure':<28}{'count':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"]
    rows += [f"{m.name:<28}{m.count:>6}{m.p50_ms:>9.0f}{m.p95_ms:>9.0f}{m.max_ms:>9.0f}" for m in got.latencies]
    rows.append(f"{'orchestrator CPU per tick':<28}{'':>6}{got.tick_cpu_p50_us / 1000:>9.3f}")
    figures = {
        m.name: {"count": m.count, "p50_ms": m.p50_ms, "p95_ms": m.p95_ms, "max_ms": m.max_ms} for m in got.latencies
    }
    return "\n".join(rows), {"latencies": figures, "tick_cpu_p50_us": got.tick_cpu_p50_us}


def serve_forever(stack: ExitStack) -> None:
    """Keep everything up for softphones until Ctrl-C."""
    accounts = sip.read_env(state_dir() / "asterisk" / "sip.env")
    pbx = sip.pbx()
    print(f"\nReady. Dial sip:<extension>@{pbx.host}:{pbx.port} (UDP); extensions:")
    print("  " + ", ".join(f"{number} {lang}" for lang, number in EXTENSIONS.items()))
    for name in accounts.get("SIP_ACCOUNTS", "").split():
        print(f"  account {name}, password {accounts[f'SIP_PASSWORD_{name.upper()}']}")
    print("Set LINGUA_ASTERISK_SIP_BIND=0.0.0.0 before set-up to accept calls from other machines. Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stack.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listener", default="es", choices=sorted(set(EXTENSIONS) - {"en"}), help="listener language")
    parser.add_argument("--out", type=Path, help="WAV of what the listener heard")
    parser.add_argument("--serve", action="store_true", help="leave everything running for softphones")
    parser.add_argument("--prompts", type=int, default=len(SPEAK), help="how many prompts the speaker reads")
    parser.add_argument("--json", type=Path, help="also write the latency figures here")
    parser.add_argument("--no-partials", action="store_true", help="run the orchestrator without STT partials")
    args = parser.parse_args(argv)
    script = (SPEAK + [n for n in EN_SET if n not in SPEAK and n not in ENROLL])[: args.prompts]
    out = args.out or state_dir() / "demo" / f"listener-{args.listener}.wav"

    with ExitStack() as stack:
        print("starting Asterisk and the servers (the first start prepares model caches)...", flush=True)
        started = "already running" not in asterisk_script("start")
        if started:
            stack.callback(asterisk_script, "stop")
        profile = stack.enter_context(running("profile_server", "--data-dir", str(state_dir() / "profiles")))
        tts = stack.enter_context(running("tts_server", "--profile-server", profile))
        stt = stack.enter_context(running("stt_server"))
        mt = stack.enter_context(running("mt_server"))
        orchestrator = stack.enter_context(
            running(
                "orchestrator",
                "--stt",
                stt,
                "--mt",
                mt,
                "--tts",
                tts,
                "--metrics-port",
                "9464",
                *(["--no-partials"] if args.no_partials else []),
            )
        )
        voice = enroll(profile, "demo-speaker", [prompt_pcm16(n) for n in ENROLL], "en", "Demo speaker")
        print(f"enrolled voice profile {voice.profile_id} ({voice.speech_seconds:.1f} s of speech)")
        print(f"orchestrator: gRPC {orchestrator}, metrics http://127.0.0.1:9464/metrics")
        if args.serve:
            serve_forever(stack)
            return

        threading.Thread(target=print_captions, args=(orchestrator,), daemon=True).start()
        speech = b"".join(prompt_pcm16(n) + bytes(int(PAUSE_S * 32000)) for n in script)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lingua-demo-")))
        out.parent.mkdir(parents=True, exist_ok=True)
        sip.write_wav(work / "speaker.wav", np.frombuffer(speech, dtype="<i2"), 16000)
        seconds = len(speech) / 32000
        print(f"\ncalling: listener on {EXTENSIONS[args.listener]} ({args.listener}), speaker on 1001 (en)\n")
        listener = sip.call(EXTENSIONS[args.listener], record_wav=out, duration_s=seconds + 10, caller="listener")
        time.sleep(2)
        with sip.call("1001", play_wav=work / "speaker.wav", duration_s=seconds + 1, caller="demo-speaker") as a:
            a.wait(seconds + 30)
        listener.wait(60)
        listener.close()
        table, figures = latency_table(orchestrator)
        print("\n" + table)
    print(f"\nwrote {out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"prompts": script, **figures}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
