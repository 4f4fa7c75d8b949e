"""Property-based bad input (hypothesis) over every RPC of every server, through real sockets.

Each case is either random bytes or a random message of the method's request type
(fields filled from their descriptors: odd strings and languages, invalid enums,
NaN and huge numbers, odd-length audio), sent as one request or a short stream. Every
answer must be OK or a deliberate status with a message (never UNKNOWN or INTERNAL,
never a hang), and afterwards the server must still answer health checks with its
memory bounded.

CI runs LINGUA_FUZZ_EXAMPLES (default 150) cases per RPC, the same ones each run;
the long run draws fresh ones and can write the status counts:

    LINGUA_FUZZ_EXAMPLES=10000 LINGUA_FUZZ_REPORT=bench/results/fuzz.json .venv/bin/python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.speech import channel
from lingua.conference.v1 import conference_pb2
from lingua.mt.v1 import mt_pb2
from lingua.profile.v1 import profile_pb2
from lingua.stt.v1 import stt_pb2
from lingua.tts.v1 import tts_pb2

EXAMPLES = int(os.environ.get("LINGUA_FUZZ_EXAMPLES", "150"))
REPORT = os.environ.get("LINGUA_FUZZ_REPORT", "")
DELIBERATE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED,
}
RSS_GROWTH_MB = 200
SERVERS = {
    "stt_address": stt_pb2,
    "mt_address": mt_pb2,
    "tts_address": tts_pb2,
    "profile_address": profile_pb2,
    "orchestrator_address": conference_pb2,
}
CODES: dict[str, Counter[str]] = defaultdict(Counter)
WORDS = ["en", "es", "fr", "de", "xx", "", "en-US", "pt-BR", "zh", "pico-es-ES", "profile-1", "a" * 300, "\u202e\x00"]


def _methods() -> Iterator[tuple[str, MethodDescriptor]]:
    for fixture, module in SERVERS.items():
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield fixture, method


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[object]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return st.one_of(st.sampled_from(WORDS), st.text(max_size=60))
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=3201)  # up to 100 ms of 16 kHz audio, odd lengths included
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values] + [999])
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.one_of(st.sampled_from([0, 8000, 16000, 22050, 48000]), st.integers(0, 2**32 - 1))
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
        return st.integers(-(2**63), 2**63 - 1)
    return st.one_of(st.sampled_from([0, 1, 16000, -1]), st.integers(-(2**31), 2**31 - 1))


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[bytes]:
    """Serialized random messages of this type (nested up to three levels)."""
    fields: dict[str, st.SearchStrategy[object]] = {}
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= 3:
                continue
            value: st.SearchStrategy[object] = messages(field.message_type, depth + 1)
        else:
            value = _scalar(field)
        fields[field.name] = st.lists(value, max_size=3) if field.is_repeated else value
    cls = message_factory.GetMessageClass(descriptor)

    def build(values: dict[str, object]) -> bytes:
        out = cls()
        for name, value in values.items():
            field = descriptor.fields_by_name[name]
            items = value if field.is_repeated else [value]
            for item in items:  # type: ignore[attr-defined]
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    target = getattr(out, name).add() if field.is_repeated else getattr(out, name)
                    target.MergeFromString(item)
                elif field.is_repeated:
                    getattr(out, name).append(item)
                else:
                    setattr(out, name, item)
        return out.SerializeToString()  # type: ignore[no-any-return]

    return st.fixed_dictionaries({}, optional=fields).map(build)


def requests(method: MethodDescriptor) -> st.SearchStrategy[list[bytes]]:
    one = st.one_of(messages(method.input_type), st.binary(max_size=200))
    return st.lists(one, min_size=1, max_size=5) if method.client_streaming else one.map(lambda r: [r])


def call(address: str, method: MethodDescriptor, payload: list[bytes]) -> tuple[grpc.StatusCode, str]:
    path = f"/{method.containing_service.full_name}/{method.name}"
    raw = {"request_serializer": lambda b: b, "response_deserializer": lambda b: b}
    with channel(address) as ch:
        try:
            if method.client_streaming and method.server_streaming:
                list(ch.stream_stream(path, **raw)(iter(payload), timeout=30))
            elif method.client_streaming:
                ch.stream_unary(path, **raw)(iter(payload), timeout=30)
            elif method.server_streaming:
                stream = ch.unary_stream(path, **raw)(payload[0], timeout=2)
                for _ in stream:  # WatchCaptions streams until cancelled: a short deadline ends it
                    pass
            else:
                ch.unary_unary(path, **raw)(payload[0], timeout=30)
        except grpc.RpcError as err:
            return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def rss_mb(address: str) -> float:
    port = int(address.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return float(psutil.Process(conn.pid).memory_info().rss / 2**20)
    raise LookupError(f"no process listens on {address}")


def forget_unloadable_modules() -> None:
    """Drop modules whose attributes cannot be read: hypothesis reads every loaded module's __file__,
    and speechbrain's lazy modules (loaded here by other tests) raise ImportError for it without k2."""
    for name, module in list(sys.modules.items()):
        try:
            getattr(module, "__file__", None)
        except ImportError:
            del sys.modules[name]


@pytest.fixture(scope="module")
def baseline() -> dict[str, tuple[str, float]]:
    """Each server's address and its RSS when its first RPC is fuzzed, by fixture."""
    return {}


@pytest.mark.parametrize(("fixture", "method"), list(_methods()), ids=lambda v: getattr(v, "full_name", v))
def test_bad_input_gets_a_deliberate_status(
    fixture: str, method: MethodDescriptor, request: pytest.FixtureRequest, baseline: dict[str, tuple[str, float]]
) -> None:
    address: str = request.getfixturevalue(fixture)
    _, before = baseline.setdefault(fixture, (address, rss_mb(address)))
    name = method.full_name
    streamed_forever = method.server_streaming and not method.client_streaming

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=EXAMPLES <= 1000,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(method))
    def case(payload: list[bytes]) -> None:
        code, details = call(address, method, payload)
        if streamed_forever and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            code = grpc.StatusCode.OK  # a watch that stayed open until our deadline: it was accepted
        CODES[name][code.name] += 1
        assert code in DELIBERATE, f"{name}: {code.name} {details!r}"
        assert code == grpc.StatusCode.OK or len(details) > 10, f"{name}: {code.name} without a message saying why"

    forget_unloadable_modules()
    case()
    with channel(address) as ch:
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    growth = rss_mb(address) - before
    assert growth < RSS_GROWTH_MB, f"{fixture} grew {growth:.0f} MB over the fuzz run"
    if REPORT:
        out = Path(REPORT)
        out.parent.mkdir(parents=True, exist_ok=True)
        rss = {f: round(rss_mb(a) - mb, 1) for f, (a, mb) in baseline.items()}
        out.write_text(json.dumps({"examples": EXAMPLES, "codes": CODES, "rss_growth_mb": rss}, indent=1) + "\n")
