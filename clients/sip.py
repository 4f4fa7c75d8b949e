"""Real SIP callers for tests: baresip and SIPp processes calling our Asterisk.

`call(extension, ...)` starts one caller and returns a `Call` to wait on or hang up.

- baresip (Debian `baresip-core`) is the default: it plays a WAV as its microphone
  (aufile module) and records what it hears (sndfile module dumps the decoded
  stream, G.722 at 16 kHz). The caller-id number (From user) is `caller`.
- SIPp (Debian `sip-tester`) is used when `headers` are given (baresip 1.0 cannot
  add SIP headers): it sends an INVITE with those headers and G.722 SDP, plays a
  pcap of RTP packets built here from the WAV, and hangs up with BYE. It cannot
  record.

The caller hangs up `duration_s` after it is answered. Recordings hold only the
audio that arrived: stretches where Asterisk sent no RTP are not in them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import wave
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from G722 import G722

from common.audio import resample, to_float, to_pcm16
from common.paths import state_dir
from common.ports import free_port

APT_PACKAGES = ("baresip-core", "sip-tester")
RATE = 16000
BARESIP_MODULES = Path("/usr/lib/baresip/modules")


@dataclass(frozen=True)
class Pbx:
    """Where callers send their INVITEs."""

    host: str = "127.0.0.1"
    port: int = 5060


def pbx() -> Pbx:
    """Our Asterisk's SIP address, from .state/asterisk/sip.env (written by asterisk/install)."""
    values = read_env(state_dir() / "asterisk" / "sip.env")
    return Pbx(values.get("SIP_HOST", "127.0.0.1"), int(values.get("SIP_PORT", "5060")))


def read_env(path: Path) -> dict[str, str]:
    """KEY=value lines of a small env file (quotes around values removed)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            out[key.strip()] = value.strip().strip('"')
    return out


def free_udp_port() -> int:
    """An unused UDP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit WAV samples (int16) and sample rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: need mono 16-bit PCM, got {wav.getnchannels()} ch, {wav.getsampwidth() * 8} bit")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write int16 samples as a mono 16-bit WAV."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def caller_audio(play_wav: Path | None, duration_s: float) -> np.ndarray:
    """What the caller sends: play_wav at 16 kHz, then silence, exactly duration_s long."""
    total = int(duration_s * RATE)
    if play_wav is None:
        return np.zeros(total, dtype=np.int16)
    samples, rate = read_wav(play_wav)
    if rate != RATE:
        samples = np.frombuffer(to_pcm16(resample(to_float(samples), rate, RATE)), dtype="<i2")
    out = np.zeros(total, dtype=np.int16)
    out[: min(total, len(samples))] = samples[:total]
    return out


def rtp_pcap(samples: np.ndarray, path: Path, payload_type: int = 9) -> None:
    """Write 16 kHz samples as a pcap of G.722 RTP packets, one per 20 ms (for SIPp's play_pcap_audio)."""
    frame = RATE // 50
    encoder = G722(RATE, 64000)
    ssrc = int.from_bytes(os.urandom(4), "big")
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for seq, start in enumerate(range(0, len(samples) - frame + 1, frame)):
        payload = encoder.encode(samples[start : start + frame].astype(np.int16))
        rtp = struct.pack("!BBHII", 0x80, payload_type | (0x80 if seq == 0 else 0), seq, seq * 160, ssrc) + payload
        udp = struct.pack("!HHHH", 40000, 40000, 8 + len(rtp), 0) + rtp
        ip = ipv4_header(len(udp)) + udp
        packet = b"\0" * 12 + b"\x08\x00" + ip
        micros = seq * 20_000
        out.append(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(packet), len(packet)) + packet)
    path.write_bytes(b"".join(out))


def ipv4_header(payload_len: int) -> bytes:
    """A UDP IPv4 header from 127.0.0.1 to 127.0.0.1, with its checksum."""
    loopback = socket.inet_aton("127.0.0.1")
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0, 64, 17, 0, loopback, loopback)
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]


@dataclass
class Call:
    """A caller process; `wait()` for it to end, or `hangup()`."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    tool: str
    record_wav: Path | None = None
    ctrl_port: int = 0
    """baresip's ctrl_tcp port, for commands during the call (send_dtmf)."""
    _final_log: str | None = field(default=None, init=False)

    def send_dtmf(self, digits: str) -> None:
        """Key digits into the call (baresip sends RFC 4733 telephone-events)."""
        if not self.ctrl_port:
            raise ValueError("only a baresip caller can send DTMF")
        for digit in digits:
            payload = json.dumps({"command": "sndcode", "params": digit, "token": digit}).encode()
            with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5) as conn:
                conn.sendall(b"%d:%s," % (len(payload), payload))
                conn.recv(4096)
            time.sleep(0.25)

    @property
    def log(self) -> str:
        """What the caller printed (so far, or in all once it ended)."""
        if self._final_log is not None:
            return self._final_log
        return (self.workdir / "caller.log").read_text(errors="replace")

    @property
    def established(self) -> bool:
        """Whether the call was answered."""
        marker = "Call established" if self.tool == "baresip" else "200"
        return marker in self.log

    def ended(self) -> bool:
        """Whether the call is over (the process exited, or baresip reports the call closed)."""
        if self.proc.poll() is not None:
            return True
        return self.tool == "baresip" and any(m in self.log for m in ("terminated", "session closed"))

    def wait(self, timeout: float) -> int:
        """Wait until the call is over, stop the process, save the recording; the exit code."""
        deadline = time.monotonic() + timeout
        while not self.ended():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.tool} call still up after {timeout}s:\n{self.log[-2000:]}")
            time.sleep(0.1)
        return self._finish()

    def hangup(self) -> int:
        """Hang up now (baresip sends BYE on SIGTERM; SIPp just stops) and save the recording."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self._finish()

    def _finish(self) -> int:
        # baresip's first SIGTERM hangs up (BYE) and closes its recording, then lingers on finished SIP
        # transactions; a second one exits. Each gets 2 s first: a second one too soon cuts both short.
        for _ in range(2):
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(2)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(2)
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        if self._final_log is None:
            if self.record_wav is not None:
                dumps = sorted((self.workdir / "rec").glob("*-dec.wav"))
                if dumps:
                    shutil.copyfile(dumps[-1], self.record_wav)
            self._final_log = self.log
        return code

    def close(self) -> None:
        """Hang up if still up, and remove the working folder."""
        self.hangup()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Call:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def call(
    extension: str,
    play_wav: Path | None = None,
    record_wav: Path | None = None,
    duration_s: float = 10.0,
    sip_port: int | None = None,
    headers: dict[str, str] | None = None,
    caller: str = "tester",
    password: str | None = None,
    answer_timeout_s: float = 30.0,
    to: Pbx | None = None,
) -> Call:
    """Call `extension` on our Asterisk as `caller` (the caller-id number).

    play_wav: mono 16-bit WAV sent as the caller's voice (silence when None);
    record_wav: where to save what the caller heard (baresip only);
    duration_s: how long the call stays up once answered;
    sip_port: the caller's local SIP port (a free one when None);
    headers: extra INVITE headers, e.g. {"X-Voice-Profile": "ana"} (uses SIPp);
    password: with caller, a SIP account to authenticate as (e.g. phone1, see sip.env).
    """
    target = to or pbx()
    workdir = Path(tempfile.mkdtemp(prefix="lingua-sip-"))
    port = sip_port or free_udp_port()
    audio = caller_audio(play_wav, duration_s)
    ctrl_port = 0
    if headers:
        if record_wav is not None or password is not None:
            raise ValueError("record_wav and password need baresip, which cannot send headers")
        cmd = sipp_command(workdir, extension, audio, port, headers, caller, answer_timeout_s, duration_s, target)
        tool = "sipp"
    else:
        ctrl_port = free_port()
        cmd = baresip_command(
            workdir, extension, audio, port, caller, password, answer_timeout_s, duration_s, target, ctrl_port
        )
        tool = "baresip"
    with (workdir / "caller.log").open("wb") as log:
        # Lowest CPU priority: a test caller stands in for a remote phone and must not take
        # the cores from the system under test (baresip uses about half a core per call).
        proc = subprocess.Popen(
            ["nice", "-n", "19", *cmd], cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return Call(proc, workdir, tool, record_wav, ctrl_port)


def baresip_command(
    workdir: Path,
    extension: str,
    audio: np.ndarray,
    port: int,
    caller: str,
    password: str | None,
    answer_timeout_s: float,
    duration_s: float,
    target: Pbx,
    ctrl_port: int,
) -> list[str]:
    """Config for a headless baresip: WAV in (aufile), decoded audio dumped to rec/ (sndfile),
    commands (DTMF) over ctrl_tcp on ctrl_port.

    baresip hangs up when its input file ends, which is what ends the call after duration_s.
    """
    write_wav(workdir / "in.wav", audio, RATE)
    (workdir / "rec").mkdir()
    config = f"""\
poll_method epoll
sip_listen 127.0.0.1:{port}
net_interface 127.0.0.1
call_local_timeout {int(answer_timeout_s)}
audio_player alsa,null
audio_alert alsa,null
audio_source aufile,{workdir / "in.wav"}
ausrc_srate {RATE}
auplay_srate {RATE}
ausrc_channels 1
auplay_channels 1
module_path {BARESIP_MODULES}
module g722.so
module sndfile.so
module aufile.so
module alsa.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl_port}
snd_path {workdir / "rec"}
"""
    (workdir / "config").write_text(config)
    auth = f";auth_pass={password}" if password else ""
    (workdir / "accounts").write_text(f"<sip:{caller}@127.0.0.1>;regint=0;audio_codecs=G722/16000/1{auth}\n")
    quit_after = int(answer_timeout_s + duration_s + 5)
    dial = f"/dial sip:{extension}@{target.host}:{target.port}"
    return ["baresip", "-f", str(workdir), "-e", dial, "-t", str(quit_after)]


SIPP_SCENARIO = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="lingua caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:{extension}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{extension}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
{headers}
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 9
      a=rtpmap:9 G722/8000
      a=ptime:20
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:{extension}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{extension}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop>
    <action>
      <exec play_pcap_audio="{pcap}"/>
    </action>
  </nop>
  <pause milliseconds="{pause_ms}"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:{extension}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{extension}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


def sipp_command(
    workdir: Path,
    extension: str,
    audio: np.ndarray,
    port: int,
    headers: dict[str, str],
    caller: str,
    answer_timeout_s: float,
    duration_s: float,
    target: Pbx,
) -> list[str]:
    """A one-call SIPp UAC scenario: INVITE with headers, play the pcap, BYE after duration_s."""
    for name, value in headers.items():
        if not name.replace("-", "").isalnum() or any(c in value for c in "\r\n<>&"):
            raise ValueError(f"unsupported header {name!r}: {value!r}")
    rtp_pcap(audio, workdir / "caller.pcap")
    scenario = SIPP_SCENARIO.format(
        extension=extension,
        caller=caller,
        headers="\n".join(f"      {name}: {value}" for name, value in headers.items()),
        pcap=workdir / "caller.pcap",
        pause_ms=int(duration_s * 1000),
    )
    (workdir / "caller.xml").write_text(scenario)
    timeout = int(answer_timeout_s + duration_s + 5)
    return [
        "sipp",
        f"{target.host}:{target.port}",
        "-sf",
        str(workdir / "caller.xml"),
        "-m",
        "1",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mp",
        str(free_udp_port()),
        "-timeout",
        f"{timeout}s",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(workdir / "errors.log"),
    ]
