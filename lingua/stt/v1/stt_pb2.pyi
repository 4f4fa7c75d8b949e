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

class SpeechEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEECH_EVENT_TYPE_UNSPECIFIED: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_SPEECH_START: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_SPEECH_END: _ClassVar[SpeechEventType]
SPEECH_EVENT_TYPE_UNSPECIFIED: SpeechEventType
SPEECH_EVENT_TYPE_SPEECH_START: SpeechEventType
SPEECH_EVENT_TYPE_SPEECH_END: SpeechEventType

class RecognitionConfig(_message.Message):
    __slots__ = ("language_code", "format", "interim_results", "endpoint_silence_ms", "alternative_language_codes")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVE_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    format: _audio_pb2.AudioFormat
    interim_results: bool
    endpoint_silence_ms: int
    alternative_language_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, language_code: _Optional[str] = ..., format: _Optional[_Union[_audio_pb2.AudioFormat, _Mapping]] = ..., interim_results: _Optional[bool] = ..., endpoint_silence_ms: _Optional[int] = ..., alternative_language_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class StreamingRecognizeRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    audio: bytes
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class SpeechEvent(_message.Message):
    __slots__ = ("type", "offset", "utterance_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    type: SpeechEventType
    offset: _duration_pb2.Duration
    utterance_id: int
    def __init__(self, type: _Optional[_Union[SpeechEventType, str]] = ..., offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., utterance_id: _Optional[int] = ...) -> None: ...

class RecognitionResult(_message.Message):
    __slots__ = ("utterance_id", "transcript", "is_final", "stability", "stable_transcript", "start_offset", "end_offset", "language_code", "speculative")
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    STABLE_TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    SPECULATIVE_FIELD_NUMBER: _ClassVar[int]
    utterance_id: int
    transcript: str
    is_final: bool
    stability: float
    stable_transcript: str
    start_offset: _duration_pb2.Duration
    end_offset: _duration_pb2.Duration
    language_code: str
    speculative: bool
    def __init__(self, utterance_id: _Optional[int] = ..., transcript: _Optional[str] = ..., is_final: _Optional[bool] = ..., stability: _Optional[float] = ..., stable_transcript: _Optional[str] = ..., start_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., end_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., language_code: _Optional[str] = ..., speculative: _Optional[bool] = ...) -> None: ...

class StreamingRecognizeResponse(_message.Message):
    __slots__ = ("speech_event", "result")
    SPEECH_EVENT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    speech_event: SpeechEvent
    result: RecognitionResult
    def __init__(self, speech_event: _Optional[_Union[SpeechEvent, _Mapping]] = ..., result: _Optional[_Union[RecognitionResult, _Mapping]] = ...) -> None: ...
