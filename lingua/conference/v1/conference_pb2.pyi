import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Transport(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSPORT_UNSPECIFIED: _ClassVar[Transport]
    TRANSPORT_SIP: _ClassVar[Transport]
    TRANSPORT_GRPC: _ClassVar[Transport]
TRANSPORT_UNSPECIFIED: Transport
TRANSPORT_SIP: Transport
TRANSPORT_GRPC: Transport

class JoinConfig(_message.Message):
    __slots__ = ("display_name", "language_code", "voice_profile_id", "conference", "pin")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    VOICE_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_FIELD_NUMBER: _ClassVar[int]
    PIN_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    language_code: str
    voice_profile_id: str
    conference: str
    pin: str
    def __init__(self, display_name: _Optional[str] = ..., language_code: _Optional[str] = ..., voice_profile_id: _Optional[str] = ..., conference: _Optional[str] = ..., pin: _Optional[str] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: JoinConfig
    audio: bytes
    def __init__(self, config: _Optional[_Union[JoinConfig, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class Joined(_message.Message):
    __slots__ = ("participant_id",)
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    def __init__(self, participant_id: _Optional[str] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("joined", "audio", "caption", "stage_status")
    JOINED_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    STAGE_STATUS_FIELD_NUMBER: _ClassVar[int]
    joined: Joined
    audio: bytes
    caption: Caption
    stage_status: StageStatus
    def __init__(self, joined: _Optional[_Union[Joined, _Mapping]] = ..., audio: _Optional[bytes] = ..., caption: _Optional[_Union[Caption, _Mapping]] = ..., stage_status: _Optional[_Union[StageStatus, _Mapping]] = ...) -> None: ...

class StageStatus(_message.Message):
    __slots__ = ("stage", "available", "message", "change_time")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    stage: str
    available: bool
    message: str
    change_time: _timestamp_pb2.Timestamp
    def __init__(self, stage: _Optional[str] = ..., available: _Optional[bool] = ..., message: _Optional[str] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Participant(_message.Message):
    __slots__ = ("participant_id", "display_name", "language_code", "voice_profile_id", "transport", "join_time", "name", "muted")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    VOICE_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    JOIN_TIME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MUTED_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    display_name: str
    language_code: str
    voice_profile_id: str
    transport: Transport
    join_time: _timestamp_pb2.Timestamp
    name: str
    muted: bool
    def __init__(self, participant_id: _Optional[str] = ..., display_name: _Optional[str] = ..., language_code: _Optional[str] = ..., voice_profile_id: _Optional[str] = ..., transport: _Optional[_Union[Transport, str]] = ..., join_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., muted: _Optional[bool] = ...) -> None: ...

class ListParticipantsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListParticipantsResponse(_message.Message):
    __slots__ = ("participants", "next_page_token")
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    participants: _containers.RepeatedCompositeFieldContainer[Participant]
    next_page_token: str
    def __init__(self, participants: _Optional[_Iterable[_Union[Participant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Conference(_message.Message):
    __slots__ = ("name", "display_name", "pin", "pin_required", "allowed_language_codes", "participant_count", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PIN_FIELD_NUMBER: _ClassVar[int]
    PIN_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    pin: str
    pin_required: bool
    allowed_language_codes: _containers.RepeatedScalarFieldContainer[str]
    participant_count: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., pin: _Optional[str] = ..., pin_required: _Optional[bool] = ..., allowed_language_codes: _Optional[_Iterable[str]] = ..., participant_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateConferenceRequest(_message.Message):
    __slots__ = ("conference", "conference_id")
    CONFERENCE_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    conference: Conference
    conference_id: str
    def __init__(self, conference: _Optional[_Union[Conference, _Mapping]] = ..., conference_id: _Optional[str] = ...) -> None: ...

class GetConferenceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListConferencesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConferencesResponse(_message.Message):
    __slots__ = ("conferences", "next_page_token")
    CONFERENCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    conferences: _containers.RepeatedCompositeFieldContainer[Conference]
    next_page_token: str
    def __init__(self, conferences: _Optional[_Iterable[_Union[Conference, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteConferenceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class MuteParticipantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnmuteParticipantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RemoveParticipantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Caption(_message.Message):
    __slots__ = ("speaker_participant_id", "speaker_name", "utterance_id", "source_language_code", "language_code", "text", "is_final")
    SPEAKER_PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_NAME_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    speaker_participant_id: str
    speaker_name: str
    utterance_id: int
    source_language_code: str
    language_code: str
    text: str
    is_final: bool
    def __init__(self, speaker_participant_id: _Optional[str] = ..., speaker_name: _Optional[str] = ..., utterance_id: _Optional[int] = ..., source_language_code: _Optional[str] = ..., language_code: _Optional[str] = ..., text: _Optional[str] = ..., is_final: _Optional[bool] = ...) -> None: ...

class WatchCaptionsRequest(_message.Message):
    __slots__ = ("language_code", "conference")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CONFERENCE_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    conference: str
    def __init__(self, language_code: _Optional[str] = ..., conference: _Optional[str] = ...) -> None: ...

class WatchCaptionsResponse(_message.Message):
    __slots__ = ("caption", "stage_status")
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    STAGE_STATUS_FIELD_NUMBER: _ClassVar[int]
    caption: Caption
    stage_status: StageStatus
    def __init__(self, caption: _Optional[_Union[Caption, _Mapping]] = ..., stage_status: _Optional[_Union[StageStatus, _Mapping]] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ("conference",)
    CONFERENCE_FIELD_NUMBER: _ClassVar[int]
    conference: str
    def __init__(self, conference: _Optional[str] = ...) -> None: ...

class LatencySummary(_message.Message):
    __slots__ = ("name", "count", "p50_ms", "p95_ms", "max_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ..., p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., max_ms: _Optional[float] = ...) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ("latencies", "dropped_frames", "playback_depth", "stage_errors", "tick_cpu_p50_us", "stale_frames", "late_ticks", "stages")
    class DroppedFramesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class PlaybackDepthEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class StageErrorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class StaleFramesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LATENCIES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FRAMES_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_DEPTH_FIELD_NUMBER: _ClassVar[int]
    STAGE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    TICK_CPU_P50_US_FIELD_NUMBER: _ClassVar[int]
    STALE_FRAMES_FIELD_NUMBER: _ClassVar[int]
    LATE_TICKS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    latencies: _containers.RepeatedCompositeFieldContainer[LatencySummary]
    dropped_frames: _containers.ScalarMap[str, int]
    playback_depth: _containers.ScalarMap[str, int]
    stage_errors: _containers.ScalarMap[str, int]
    tick_cpu_p50_us: float
    stale_frames: _containers.ScalarMap[str, int]
    late_ticks: int
    stages: _containers.RepeatedCompositeFieldContainer[StageStatus]
    def __init__(self, latencies: _Optional[_Iterable[_Union[LatencySummary, _Mapping]]] = ..., dropped_frames: _Optional[_Mapping[str, int]] = ..., playback_depth: _Optional[_Mapping[str, int]] = ..., stage_errors: _Optional[_Mapping[str, int]] = ..., tick_cpu_p50_us: _Optional[float] = ..., stale_frames: _Optional[_Mapping[str, int]] = ..., late_ticks: _Optional[int] = ..., stages: _Optional[_Iterable[_Union[StageStatus, _Mapping]]] = ...) -> None: ...
