import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from lingua.audio.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SegmentMarkerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_MARKER_TYPE_UNSPECIFIED: _ClassVar[SegmentMarkerType]
    SEGMENT_MARKER_TYPE_START: _ClassVar[SegmentMarkerType]
    SEGMENT_MARKER_TYPE_END: _ClassVar[SegmentMarkerType]
SEGMENT_MARKER_TYPE_UNSPECIFIED: SegmentMarkerType
SEGMENT_MARKER_TYPE_START: SegmentMarkerType
SEGMENT_MARKER_TYPE_END: SegmentMarkerType

class SynthesisConfig(_message.Message):
    __slots__ = ("language_code", "voice_name", "voice_profile_id", "format", "speaking_rate", "pitch_semitones")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    VOICE_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATE_FIELD_NUMBER: _ClassVar[int]
    PITCH_SEMITONES_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    voice_name: str
    voice_profile_id: str
    format: _audio_pb2.AudioFormat
    speaking_rate: float
    pitch_semitones: float
    def __init__(self, language_code: _Optional[str] = ..., voice_name: _Optional[str] = ..., voice_profile_id: _Optional[str] = ..., format: _Optional[_Union[_audio_pb2.AudioFormat, _Mapping]] = ..., speaking_rate: _Optional[float] = ..., pitch_semitones: _Optional[float] = ...) -> None: ...

class TextInput(_message.Message):
    __slots__ = ("text", "segment_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    segment_id: str
    def __init__(self, text: _Optional[str] = ..., segment_id: _Optional[str] = ...) -> None: ...

class Flush(_message.Message):
    __slots__ = ("segment_id",)
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    def __init__(self, segment_id: _Optional[str] = ...) -> None: ...

class StreamingSynthesizeRequest(_message.Message):
    __slots__ = ("config", "text", "flush")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    config: SynthesisConfig
    text: TextInput
    flush: Flush
    def __init__(self, config: _Optional[_Union[SynthesisConfig, _Mapping]] = ..., text: _Optional[_Union[TextInput, _Mapping]] = ..., flush: _Optional[_Union[Flush, _Mapping]] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("audio_content", "segment_id")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    segment_id: str
    def __init__(self, audio_content: _Optional[bytes] = ..., segment_id: _Optional[str] = ...) -> None: ...

class SegmentMarker(_message.Message):
    __slots__ = ("type", "segment_id", "audio_duration", "voice_name")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    type: SegmentMarkerType
    segment_id: str
    audio_duration: _duration_pb2.Duration
    voice_name: str
    def __init__(self, type: _Optional[_Union[SegmentMarkerType, str]] = ..., segment_id: _Optional[str] = ..., audio_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., voice_name: _Optional[str] = ...) -> None: ...

class StreamingSynthesizeResponse(_message.Message):
    __slots__ = ("audio", "marker")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    audio: AudioChunk
    marker: SegmentMarker
    def __init__(self, audio: _Optional[_Union[AudioChunk, _Mapping]] = ..., marker: _Optional[_Union[SegmentMarker, _Mapping]] = ...) -> None: ...

class ListVoicesRequest(_message.Message):
    __slots__ = ("language_code",)
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    def __init__(self, language_code: _Optional[str] = ...) -> None: ...

class Voice(_message.Message):
    __slots__ = ("name", "language_codes", "engine", "native_sample_rate_hertz", "gender")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    NATIVE_SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    engine: str
    native_sample_rate_hertz: int
    gender: str
    def __init__(self, name: _Optional[str] = ..., language_codes: _Optional[_Iterable[str]] = ..., engine: _Optional[str] = ..., native_sample_rate_hertz: _Optional[int] = ..., gender: _Optional[str] = ...) -> None: ...

class ListVoicesResponse(_message.Message):
    __slots__ = ("voices",)
    VOICES_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[Voice]
    def __init__(self, voices: _Optional[_Iterable[_Union[Voice, _Mapping]]] = ...) -> None: ...
