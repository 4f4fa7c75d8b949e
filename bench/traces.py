"""Per-utterance latencies read from the traces the servers export (what Jaeger shows).

Each utterance is one trace: the orchestrator's `utterance` span (from speech start)
with children `stt` (its `speech_end` event marks the end of speech), `mt` (each
with the MT server's `Translate` span under it), `tts` (with the TTS server's
`StreamingSynthesize` under it and a `first_audio` event) and one `playback` per
listener (first translated frame played to last).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from bench.report import pct
from clients.otlp import Span

MS = 1e6


@dataclass
class Heard:
    """One listener's playback of one utterance."""

    listener: str
    language: str
    first_ms: float
    """End of speech -> first translated frame played."""
    last_ms: float
    """End of speech -> last translated frame played (the lag the listener lives with)."""
    backlog_s: float
    cut: bool


@dataclass
class UtteranceTrace:
    """The stage times of one utterance, in ms from its end of speech."""

    trace_id: str
    speaker: str
    speaker_name: str
    language: str
    number: int
    stt_final_ms: float
    mt_ms: list[float] = field(default_factory=list)
    mt_server_ms: list[float] = field(default_factory=list)
    tts_first_audio_ms: list[float] = field(default_factory=list)
    heard: list[Heard] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)


def utterances(spans: list[Span]) -> list[UtteranceTrace]:
    """Every finished utterance trace (its speech ended) in the spans, by start time."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    out = []
    for trace_id, members in by_trace.items():
        named = defaultdict(list)
        for span in members:
            named[span.name].append(span)
        roots, stts = named.get("utterance", []), named.get("stt", [])
        if len(roots) != 1 or len(stts) != 1:
            continue
        root, stt = roots[0], stts[0]
        end = next((at for name, at, _ in stt.events if name == "speech_end"), None)
        if end is None:
            continue
        utterance = UtteranceTrace(
            trace_id,
            str(root.attributes.get("lingua.speaker", "")),
            str(root.attributes.get("lingua.speaker_name", "")),
            str(root.attributes.get("lingua.language", "")),
            int(root.attributes.get("lingua.utterance", 0)),
            (stt.end_ns - end) / MS,
            spans=sorted(members, key=lambda s: s.start_ns),
        )
        utterance.mt_ms = [s.duration_ms for s in named.get("mt", [])]
        utterance.mt_server_ms = [s.duration_ms for s in members if s.name.endswith("TranslatorService/Translate")]
        for tts in named.get("tts", []):
            first = next((at for name, at, _ in tts.events if name == "first_audio"), None)
            if first is not None:
                utterance.tts_first_audio_ms.append((first - tts.start_ns) / MS)
        for play in named.get("playback", []):
            utterance.heard.append(
                Heard(
                    str(play.attributes.get("lingua.listener", "")),
                    str(play.attributes.get("lingua.language", "")),
                    (play.start_ns - end) / MS,
                    (play.end_ns - end) / MS,
                    float(play.attributes.get("lingua.backlog_s", 0.0)),
                    bool(play.attributes.get("lingua.cut", False)),
                )
            )
        out.append(utterance)
    return sorted(out, key=lambda u: u.spans[0].start_ns)


def record(trace: UtteranceTrace) -> dict[str, object]:
    """One utterance's figures as JSON: who spoke, its stage times, and each listener's hearing."""
    return {
        "trace_id": trace.trace_id,
        "speaker": trace.speaker_name or trace.speaker,
        "language": trace.language,
        "number": trace.number,
        "stt_final_ms": round(trace.stt_final_ms, 1),
        "mt_ms": [round(m, 1) for m in trace.mt_ms],
        "tts_first_audio_ms": [round(t, 1) for t in trace.tts_first_audio_ms],
        "heard": [asdict(h) for h in trace.heard],
    }


def summary(traces: list[UtteranceTrace]) -> dict[str, dict[str, float]]:
    """p50/p95/p99/max (ms, or s for backlog) and count of each measure over the utterances."""
    values: dict[str, list[float]] = {
        "speech_end_to_first_audio": [h.first_ms for u in traces for h in u.heard],
        "speech_end_to_last_audio": [h.last_ms for u in traces for h in u.heard if not h.cut],
        "stt_final": [u.stt_final_ms for u in traces],
        "mt": [m for u in traces for m in u.mt_ms],
        "mt_server": [m for u in traces for m in u.mt_server_ms],
        "tts_first_audio": [t for u in traces for t in u.tts_first_audio_ms],
        "listener_backlog_s": [h.backlog_s for u in traces for h in u.heard],
    }
    return {
        name: {
            "count": len(v),
            "p50": pct(v, 50),
            "p95": pct(v, 95),
            "p99": pct(v, 99),
            "max": max(v, default=float("nan")),
        }
        for name, v in values.items()
    }


def render(trace: UtteranceTrace) -> str:
    """One utterance's spans as an indented tree with offsets from its start (a Jaeger-like view)."""
    children: dict[str, list[Span]] = defaultdict(list)
    ids = {s.span_id for s in trace.spans}
    roots = []
    for span in trace.spans:
        if span.parent_id in ids:
            children[span.parent_id].append(span)
        else:
            roots.append(span)
    start = min(s.start_ns for s in trace.spans)
    lines = [f"trace {trace.trace_id}"]

    def walk(span: Span, depth: int) -> None:
        keys = ("lingua.language", "lingua.route", "lingua.voice", "lingua.engine", "lingua.text_length")
        shown = {k.removeprefix("lingua."): span.attributes[k] for k in keys if k in span.attributes}
        lines.append(
            f"{'  ' * depth}{span.name} [{span.service}] +{(span.start_ns - start) / MS:.0f} ms"
            f" {span.duration_ms:.0f} ms {shown if shown else ''}".rstrip()
        )
        for child in children.get(span.span_id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)
