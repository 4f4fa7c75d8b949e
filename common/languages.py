"""Language codes: BCP-47 tags in the API, ISO 639-3 where engines want it."""

from __future__ import annotations

from common.errors import InvalidArgument

# ISO 639-1 -> ISO 639-3 for the languages any engine here speaks.
ISO639_3 = {
    "ar": "ara",
    "ca": "cat",
    "cs": "ces",
    "da": "dan",
    "de": "deu",
    "el": "ell",
    "en": "eng",
    "es": "spa",
    "eu": "eus",
    "fi": "fin",
    "fr": "fra",
    "gl": "glg",
    "he": "heb",
    "hi": "hin",
    "hu": "hun",
    "id": "ind",
    "it": "ita",
    "ja": "jpn",
    "ko": "kor",
    "nl": "nld",
    "no": "nor",
    "pl": "pol",
    "pt": "por",
    "ro": "ron",
    "ru": "rus",
    "sv": "swe",
    "tr": "tur",
    "uk": "ukr",
    "vi": "vie",
    "zh": "zho",
}
ISO639_1 = {v: k for k, v in ISO639_3.items()}


def base_language(tag: str) -> str:
    """Return the lower-case primary subtag of a BCP-47 tag ("es-ES" -> "es").

    Three-letter codes that have a two-letter form are folded to it.
    """
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    if not primary.isalpha() or len(primary) not in (2, 3):
        raise InvalidArgument(f"invalid language code {tag!r}; use a BCP-47 tag such as 'en' or 'es-ES'")
    return ISO639_1.get(primary, primary)


def require_supported(tag: str, supported: set[str] | frozenset[str], what: str) -> str:
    """Normalize tag and check it is one of supported (primary subtags)."""
    lang = base_language(tag)
    if lang not in supported:
        raise InvalidArgument(f"unsupported {what} language {tag!r}; supported: {', '.join(sorted(supported))}")
    return lang
