"""Glossary and do-not-translate: protect phrases with placeholders engines copy unchanged.

Each protected phrase becomes a token such as ZXQ0, which Apertium treats as an
unknown proper noun and Bergamot copies through (both verified by the tests);
after translation the token becomes the glossary target, or the phrase exactly
as it was written for do-not-translate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PREFIXES = ("ZXQ", "QXZ", "XQZ", "ZQX", "QZX", "XZQ")
"""Placeholder prefixes; the first one absent from the text is used."""


@dataclass(frozen=True)
class Protected:
    """Text with placeholders, and what each placeholder becomes afterwards."""

    text: str
    prefix: str
    replacements: tuple[str, ...]

    def restore(self, translated: str) -> str:
        """Put the replacements back in place of the placeholders."""
        if not self.replacements:
            return translated

        def put_back(match: re.Match[str]) -> str:
            index = int(match[1])
            return self.replacements[index] if index < len(self.replacements) else match[0]

        return re.sub(rf"(?<!\w){self.prefix}(\d+)(?!\w)", put_back, translated, flags=re.IGNORECASE)


class Protection:
    """The phrases protected for one target language.

    terms maps a source phrase to its forced translation, or to None to keep it
    as written. Matching ignores case and spacing, respects word boundaries and
    prefers the longest phrase.
    """

    def __init__(self, terms: dict[str, str | None]) -> None:
        self._terms = {_fold(source): target for source, target in terms.items()}
        phrases = sorted(terms, key=lambda phrase: (-len(phrase), phrase))
        self._pattern = re.compile("|".join(map(_phrase_pattern, phrases)), re.IGNORECASE) if phrases else None

    def protect(self, text: str) -> Protected:
        """Replace every protected phrase in text by a placeholder."""
        if self._pattern is None:
            return Protected(text, "", ())
        prefix = next((p for p in _PREFIXES if p.lower() not in text.lower()), _PREFIXES[0])
        replacements: list[str] = []

        def hide(match: re.Match[str]) -> str:
            target = self._terms.get(_fold(match[0]))
            replacements.append(match[0] if target is None else target)
            return f"{prefix}{len(replacements) - 1}"

        protected = self._pattern.sub(hide, text)
        return Protected(protected, prefix, tuple(replacements))


def build_terms(
    glossary: Iterable[tuple[str, str, str]], do_not_translate: Iterable[str], target: str
) -> dict[str, str | None]:
    """Terms for one target: (source, target_text, target language or "") glossary entries and kept phrases.

    Glossary entries win over do-not-translate, and an entry for this target over
    one for all targets; target languages must already be normalized.
    """
    terms: dict[str, tuple[str, str | None]] = {_fold(phrase): (phrase, None) for phrase in do_not_translate}
    for source, target_text, language in sorted(glossary, key=lambda entry: bool(entry[2])):
        if language in ("", target):
            terms[_fold(source)] = (source, target_text)
    return dict(terms.values())


def _fold(phrase: str) -> str:
    return " ".join(phrase.split()).casefold()


def _phrase_pattern(phrase: str) -> str:
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    head = r"(?<!\w)" if re.match(r"\w", phrase) else ""
    tail = r"(?!\w)" if re.search(r"\w$", phrase) else ""
    return head + body + tail
