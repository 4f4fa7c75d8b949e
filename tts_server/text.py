"""Engine-independent text chunking: streamed text in, speakable pieces out as soon as they are complete.

A piece is a sentence, or a clause of a long sentence. The first piece of a
segment is kept short (a short clause, or the first few words of a long
sentence) so that audio starts quickly; later pieces are synthesized while the
earlier ones play.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_MARKS = ".!?\u2026\u3002\uff01\uff1f"
"""Marks that end a sentence: . ! ? ellipsis, and the ideographic full stop and full-width ! ?."""
CLAUSE_MARKS = ",;:\u3001\uff0c\uff1b\uff1a"
"""Marks that end a clause: , ; : and the ideographic and full-width comma, semicolon and colon."""
CLOSERS = "\"')]}\u00bb\u201d\u2019\u300d\u300f"
"""Closing quotes and brackets that stay with the mark before them."""
WIDE_MARKS = "\u3002\uff01\uff1f\u3001\uff0c\uff1b\uff1a"
"""Marks of scripts without spaces: they end a piece with nothing after them."""
OPENERS = "\"'([{\u00ab\u201c\u2018"
"""Opening quotes and brackets."""

ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "st", "sr", "sra", "srta", "jr", "vs", "etc", "e.g", "i.e"),
        *("no", "nr", "fig", "approx", "dept", "mt", "mme", "mlle", "sig", "sgt", "gen", "col", "capt"),
    }
)
"""Words that a full stop follows without ending the sentence."""

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD = re.compile(r"\w")


def weight(text: str) -> float:
    """Rough word count: spaced words, plus half a word per CJK character."""
    cjk = len(_CJK.findall(text))
    words = sum(1 for token in _CJK.sub(" ", text).split() if _WORD.search(token))
    return words + cjk / 2


@dataclass(frozen=True)
class Limits:
    """When a piece is long enough to speak."""

    clause_words: int = 4
    """A clause (ending at a comma, semicolon or colon) is spoken once it has this many words."""
    first_clause_words: int = 2
    """The same, for the first piece of a segment."""
    head_words: int = 8
    """A segment's first sentence longer than this is split, at a clause or after a few words."""
    max_words: int = 20
    """Text with no sentence or clause end is cut at a word boundary after this many words."""
    max_chars: int = 240
    """Text with no space or mark at all is cut after this many characters."""


class Chunker:
    """Buffers the text of one segment and releases pieces to speak."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._buffer = ""
        self._released = 0

    @property
    def pending(self) -> str:
        """Text held back, waiting for the end of its sentence or clause."""
        return self._buffer

    def push(self, text: str) -> list[str]:
        """Add text; return the pieces now complete."""
        self._buffer += text
        return self._take(final=False)

    def flush(self) -> list[str]:
        """Return every remaining piece; the next text starts a new segment."""
        pieces = self._take(final=True)
        rest = self._buffer.strip()
        if _WORD.search(rest):
            pieces.append(rest)
        self._buffer = ""
        self._released = 0
        return pieces

    def _take(self, final: bool) -> list[str]:
        pieces = []
        while (cut := self._next_cut(final)) is not None:
            piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if _WORD.search(piece):
                pieces.append(piece)
                self._released += 1
        return pieces

    def _next_cut(self, final: bool) -> int | None:
        """Where the next complete piece ends in the buffer, or None to wait for more text."""
        text = self._buffer
        first = self._released == 0
        min_clause = self.limits.first_clause_words if first else self.limits.clause_words
        sentences, clauses = _boundaries(text, final)
        if sentences:
            end = sentences[0]
            limit = self.limits.head_words if first else self.limits.max_words
            if weight(text[:end]) <= limit:
                return end
            for cut in clauses:
                if cut < end and min_clause <= weight(text[:cut]) <= limit:
                    return cut
            return _word_cut(text, end, self.limits.head_words // 2 + 1 if first else limit)
        for cut in clauses:
            if weight(text[:cut]) >= min_clause:
                return cut
        if weight(text) > self.limits.max_words:
            return _word_cut(text, len(text), self.limits.max_words)
        if len(text) > self.limits.max_chars:
            space = text.rfind(" ", 0, self.limits.max_chars)
            return space if space > 0 else self.limits.max_chars
        return None


def _boundaries(text: str, final: bool) -> tuple[list[int], list[int]]:
    """Indexes just past each sentence end and each clause end that is certain by now."""
    sentences: list[int] = []
    clauses: list[int] = []
    i = 0
    while i < len(text):
        mark = text[i]
        if mark not in SENTENCE_MARKS and mark not in CLAUSE_MARKS:
            i += 1
            continue
        end = i + 1
        while end < len(text) and (text[end] in SENTENCE_MARKS or text[end] in CLOSERS):
            end += 1
        if text[end : end + 1].isspace() and text[end + 1 : end + 2] in ("\u00bb", "\u201d"):
            end += 2  # French spacing: « bonjour. »
        if end < len(text):
            done = text[end].isspace() or mark in WIDE_MARKS
        else:
            # The mark ends the text so far: a digit before it may go on ("3." then "5").
            done = final or mark in WIDE_MARKS or not (i > 0 and text[i - 1].isdigit())
        if done and mark == "." and _abbreviation(text[:i]):
            done = False
        if done:
            (sentences if mark in SENTENCE_MARKS else clauses).append(end)
        i = end
    return sentences, clauses


def _abbreviation(before: str) -> bool:
    """Whether the word before a full stop is an abbreviation or an initial, not a sentence end."""
    word = before.split()[-1] if before.split() else ""
    word = word.lstrip(OPENERS)
    return word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper())


def _word_cut(text: str, end: int, words: float) -> int:
    """Cut text[:end] after about `words` words, preferring to end on a longer word."""
    spaces = [m.start() for m in re.finditer(r"\s+", text[:end]) if _WORD.search(text[: m.start()])]
    if not spaces:
        return end
    candidates = [s for s in spaces if weight(text[:s]) <= words] or spaces[:1]
    longer = [s for s in candidates if weight(text[:s]) >= 3 and len(text[:s].split()[-1].strip(",;:")) >= 4]
    return (longer or candidates)[-1]
