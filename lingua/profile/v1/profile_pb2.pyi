import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lingua.audio.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VoiceProfile(_message.Message):
    __slots__ = ("profile_id", "display_name", "language_code", "embedding", "embedder", "version", "sample_count", "speech_seconds", "create_time", "pitch_median_hertz")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SPEECH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PITCH_MEDIAN_HERTZ_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    display_name: str
    language_code: str
    embedding: _containers.RepeatedScalarFieldContainer[float]
    embedder: str
    version: int
    sample_count: int
    speech_seconds: float
    create_time: _timestamp_pb2.Timestamp
    pitch_median_hertz: float
    def __init__(self, profile_id: _Optional[str] = ..., display_name: _Optional[str] = ..., language_code: _Optional[str] = ..., embedding: _Optional[_Iterable[float]] = ..., embedder: _Optional[str] = ..., version: _Optional[int] = ..., sample_count: _Optional[int] = ..., speech_seconds: _Optional[float] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pitch_median_hertz: _Optional[float] = ...) -> None: ...

class EnrollMetadata(_message.Message):
    __slots__ = ("profile_id", "display_name", "language_code", "format")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    display_name: str
    language_code: str
    format: _audio_pb2.AudioFormat
    def __init__(self, profile_id: _Optional[str] = ..., display_name: _Optional[str] = ..., language_code: _Optional[str] = ..., format: _Optional[_Union[_audio_pb2.AudioFormat, _Mapping]] = ...) -> None: ...

class EnrollRequest(_message.Message):
    __slots__ = ("metadata", "sample")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    metadata: EnrollMetadata
    sample: bytes
    def __init__(self, metadata: _Optional[_Union[EnrollMetadata, _Mapping]] = ..., sample: _Optional[bytes] = ...) -> None: ...

class EnrollResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: VoiceProfile
    def __init__(self, profile: _Optional[_Union[VoiceProfile, _Mapping]] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("profile_id",)
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    def __init__(self, profile_id: _Optional[str] = ...) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: VoiceProfile
    def __init__(self, profile: _Optional[_Union[VoiceProfile, _Mapping]] = ...) -> None: ...

class ListProfilesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProfilesResponse(_message.Message):
    __slots__ = ("profiles", "next_page_token")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[VoiceProfile]
    next_page_token: str
    def __init__(self, profiles: _Optional[_Iterable[_Union[VoiceProfile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteProfileRequest(_message.Message):
    __slots__ = ("profile_id",)
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    def __init__(self, profile_id: _Optional[str] = ...) -> None: ...

class DeleteProfileResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EmbedRequest(_message.Message):
    __slots__ = ("audio",)
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    audio: _audio_pb2.AudioInput
    def __init__(self, audio: _Optional[_Union[_audio_pb2.AudioInput, _Mapping]] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("embedding", "embedder", "speech_seconds", "pitch_median_hertz")
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    SPEECH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PITCH_MEDIAN_HERTZ_FIELD_NUMBER: _ClassVar[int]
    embedding: _containers.RepeatedScalarFieldContainer[float]
    embedder: str
    speech_seconds: float
    pitch_median_hertz: float
    def __init__(self, embedding: _Optional[_Iterable[float]] = ..., embedder: _Optional[str] = ..., speech_seconds: _Optional[float] = ..., pitch_median_hertz: _Optional[float] = ...) -> None: ...

class CompareOperand(_message.Message):
    __slots__ = ("profile_id", "audio")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    audio: _audio_pb2.AudioInput
    def __init__(self, profile_id: _Optional[str] = ..., audio: _Optional[_Union[_audio_pb2.AudioInput, _Mapping]] = ...) -> None: ...

class CompareRequest(_message.Message):
    __slots__ = ("first", "second")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    SECOND_FIELD_NUMBER: _ClassVar[int]
    first: CompareOperand
    second: CompareOperand
    def __init__(self, first: _Optional[_Union[CompareOperand, _Mapping]] = ..., second: _Optional[_Union[CompareOperand, _Mapping]] = ...) -> None: ...

class CompareResponse(_message.Message):
    __slots__ = ("similarity", "speaker_similarity", "prosody_similarity")
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    PROSODY_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    similarity: float
    speaker_similarity: float
    prosody_similarity: float
    def __init__(self, similarity: _Optional[float] = ..., speaker_similarity: _Optional[float] = ..., prosody_similarity: _Optional[float] = ...) -> None: ...

class GetEnrollmentAudioRequest(_message.Message):
    __slots__ = ("profile_id",)
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    def __init__(self, profile_id: _Optional[str] = ...) -> None: ...

class GetEnrollmentAudioResponse(_message.Message):
    __slots__ = ("samples", "create_time")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[_audio_pb2.AudioInput]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, samples: _Optional[_Iterable[_Union[_audio_pb2.AudioInput, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
