"""The serving guard (common/guard.py, in every server) on a real server over a socket:
admission control that leaves health checks answered, idle streams closed, undecodable
requests refused as INVALID_ARGUMENT. The orchestrator serves here: it needs no models."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.launch import running
from clients.speech import channel
from lingua.conference.v1 import conference_pb2, conference_pb2_grpc

GET_METRICS = "/lingua.conference.v1.ConferenceService/GetMetrics"
JOIN = "/lingua.conference.v1.ConferenceService/Join"


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    nowhere = "127.0.0.1:9"
    stages = ["--stt", nowhere, "--mt", nowhere, "--tts", nowhere]
    with running("orchestrator", "--no-ari", *stages, "--max-streams", "2", "--idle-seconds", "1.5") as address:
        yield address


def raw_call(address: str, method: str, payload: bytes) -> grpc.RpcError:
    with channel(address) as ch, pytest.raises(grpc.RpcError) as caught:
        ch.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)(payload, timeout=10)
    return caught.value


def test_undecodable_requests_are_invalid_argument(guarded: str) -> None:
    error = raw_call(guarded, GET_METRICS, b"\xff\xff\xff\xff")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert "GetMetrics: the request is not a valid protobuf message" in (error.details() or "")


@pytest.mark.parametrize("config", [b"\x12\x02\xff\xfe", b"\x12\x05en"], ids=["invalid-utf8", "truncated"])
def test_undecodable_stream_messages_are_invalid_argument(guarded: str, config: bytes) -> None:
    request = b"\x0a" + bytes([len(config)]) + config  # JoinRequest.config = JoinConfig{language_code: ...}
    with channel(guarded) as ch, pytest.raises(grpc.RpcError) as caught:
        join = ch.stream_stream(JOIN, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        list(join(iter([request]), timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value
    assert "not a valid protobuf message" in (caught.value.details() or "")


def health(address: str) -> int:
    with channel(address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status  # type: ignore[no-any-return]


def test_full_server_refuses_at_once_answers_health_and_frees_idle_slots(guarded: str) -> None:
    results: list[grpc.StatusCode] = []
    release = threading.Event()

    def idle_join() -> None:
        def requests() -> Iterator[conference_pb2.JoinRequest]:
            release.wait(30)  # never sends: an abandoned stream
            return
            yield

        with channel(guarded) as ch:
            try:
                list(conference_pb2_grpc.ConferenceServiceStub(ch).Join(requests(), timeout=30))
            except grpc.RpcError as err:
                results.append(err.code())

    threads = [threading.Thread(target=idle_join) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    started = time.monotonic()
    error = raw_call(guarded, GET_METRICS, b"")
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-streams" in (error.details() or "")
    assert time.monotonic() - started < 5, "refused at once, not queued"
    assert health(guarded) == health_pb2.HealthCheckResponse.SERVING
    for t in threads:
        t.join(20)
    release.set()
    assert results == [grpc.StatusCode.DEADLINE_EXCEEDED] * 2
    with channel(guarded) as ch:
        stub = conference_pb2_grpc.ConferenceServiceStub(ch)
        got = stub.ListParticipants(conference_pb2.ListParticipantsRequest(), timeout=10)
    assert list(got.participants) == [], "slots given back, and the idle joiners never joined"
