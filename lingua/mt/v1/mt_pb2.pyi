from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Formality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORMALITY_UNSPECIFIED: _ClassVar[Formality]
    FORMALITY_MORE: _ClassVar[Formality]
    FORMALITY_LESS: _ClassVar[Formality]
FORMALITY_UNSPECIFIED: Formality
FORMALITY_MORE: Formality
FORMALITY_LESS: Formality

class GlossaryEntry(_message.Message):
    __slots__ = ("source_text", "target_text", "target_language_code")
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    TARGET_TEXT_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    source_text: str
    target_text: str
    target_language_code: str
    def __init__(self, source_text: _Optional[str] = ..., target_text: _Optional[str] = ..., target_language_code: _Optional[str] = ...) -> None: ...

class TranslationConfig(_message.Message):
    __slots__ = ("source_language_code", "target_language_codes", "glossary", "do_not_translate", "formality")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    GLOSSARY_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_TRANSLATE_FIELD_NUMBER: _ClassVar[int]
    FORMALITY_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_codes: _containers.RepeatedScalarFieldContainer[str]
    glossary: _containers.RepeatedCompositeFieldContainer[GlossaryEntry]
    do_not_translate: _containers.RepeatedScalarFieldContainer[str]
    formality: Formality
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_codes: _Optional[_Iterable[str]] = ..., glossary: _Optional[_Iterable[_Union[GlossaryEntry, _Mapping]]] = ..., do_not_translate: _Optional[_Iterable[str]] = ..., formality: _Optional[_Union[Formality, str]] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("segment_id", "text", "is_final")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    text: str
    is_final: bool
    def __init__(self, segment_id: _Optional[str] = ..., text: _Optional[str] = ..., is_final: _Optional[bool] = ...) -> None: ...

class StreamingTranslateRequest(_message.Message):
    __slots__ = ("config", "segment")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    config: TranslationConfig
    segment: Segment
    def __init__(self, config: _Optional[_Union[TranslationConfig, _Mapping]] = ..., segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class StreamingTranslateResponse(_message.Message):
    __slots__ = ("segment_id", "target_language_code", "text", "is_final")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    target_language_code: str
    text: str
    is_final: bool
    def __init__(self, segment_id: _Optional[str] = ..., target_language_code: _Optional[str] = ..., text: _Optional[str] = ..., is_final: _Optional[bool] = ...) -> None: ...

class TranslateRequest(_message.Message):
    __slots__ = ("source_language_code", "target_language_code", "text", "glossary", "do_not_translate", "formality")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    GLOSSARY_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_TRANSLATE_FIELD_NUMBER: _ClassVar[int]
    FORMALITY_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    text: str
    glossary: _containers.RepeatedCompositeFieldContainer[GlossaryEntry]
    do_not_translate: _containers.RepeatedScalarFieldContainer[str]
    formality: Formality
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., text: _Optional[str] = ..., glossary: _Optional[_Iterable[_Union[GlossaryEntry, _Mapping]]] = ..., do_not_translate: _Optional[_Iterable[str]] = ..., formality: _Optional[_Union[Formality, str]] = ...) -> None: ...

class TranslateResponse(_message.Message):
    __slots__ = ("text", "route")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    text: str
    route: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., route: _Optional[_Iterable[str]] = ...) -> None: ...

class ListLanguagePairsRequest(_message.Message):
    __slots__ = ("source_language_code",)
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    def __init__(self, source_language_code: _Optional[str] = ...) -> None: ...

class LanguagePair(_message.Message):
    __slots__ = ("source_language_code", "target_language_code", "route", "chrf")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CHRF_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    route: _containers.RepeatedScalarFieldContainer[str]
    chrf: float
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., route: _Optional[_Iterable[str]] = ..., chrf: _Optional[float] = ...) -> None: ...

class ListLanguagePairsResponse(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[LanguagePair]
    def __init__(self, pairs: _Optional[_Iterable[_Union[LanguagePair, _Mapping]]] = ...) -> None: ...
