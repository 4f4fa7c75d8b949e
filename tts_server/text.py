"""Engine-independent text chunking: streamed text in, speakable pieces out as soon as they are complete.

A piece is a sentence, or a clause of a long sentence. The first piece of a
segment is kept short (a short clause, or the first few words of a long
sentence) so that audio starts quickly; later pieces are synthesized while the
earlier ones play.

Each push indexes the buffer once (its marks, words and spaces), and each cut is
then found with a few binary searches, so the cost grows with the text, not
with its square: a buffer of 100 KB is cut in milliseconds.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter

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

_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CHARS}]+")
_COUNTED = re.compile(f"[^\\s{_CJK_CHARS}]+")
"""What counts as a word if it holds a word character: text between spaces and CJK characters."""
_WORD = re.compile(r"\w")
_WORDS = re.compile(r"\w+")
_TOKENS = re.compile(r"\S+")
_MARK = re.compile(f"[{re.escape(SENTENCE_MARKS + CLAUSE_MARKS)}]")
_MARK_RUN = re.compile(f"{_MARK.pattern}[{re.escape(SENTENCE_MARKS + CLOSERS)}]*(?:\\s[\u00bb\u201d])?")
"""A mark and the sentence marks and closers after it, with a French closing quote after a space: « bonjour. »"""
_NOT_OPENER = re.compile(f"[^{re.escape(OPENERS)}]")
_LONGEST_ABBREVIATION = max(map(len, ABBREVIATIONS))
_first = itemgetter(0)


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
        text = _Text(self._buffer, final)
        pieces = []
        start = 0
        while (cut := self._next_cut(text, start)) is not None:
            piece = self._buffer[start:cut].strip()
            if _WORD.search(piece):
                pieces.append(piece)
                self._released += 1
            start = cut
        self._buffer = self._buffer[start:]
        return pieces

    def _next_cut(self, text: _Text, start: int) -> int | None:
        """Where the piece that begins at start ends, or None to wait for more text."""
        first = self._released == 0
        min_clause = self.limits.first_clause_words if first else self.limits.clause_words
        end = text.sentence(start)
        if end is not None:
            limit = self.limits.head_words if first else self.limits.max_words
            if text.weight(start, end) <= limit:
                return end
            clause = text.clause(start, min_clause)
            if clause is not None and clause < end and text.weight(start, clause) <= limit:
                return clause
            return text.word_cut(start, end, self.limits.head_words // 2 + 1 if first else limit)
        clause = text.clause(start, min_clause)
        if clause is not None:
            return clause
        size = len(text.text)
        if text.weight(start, size) > self.limits.max_words:
            return text.word_cut(start, size, self.limits.max_words)
        if size - start > self.limits.max_chars:
            space = text.text.rfind(" ", start, start + self.limits.max_chars)
            return space if space > start else start + self.limits.max_chars
        return None


class _Runs:
    """The matches of a pattern in a text as sorted spans, to find those in a slice with binary searches."""

    def __init__(self, pattern: re.Pattern[str], text: str) -> None:
        spans = [match.span() for match in pattern.finditer(text)]
        self.starts = [a for a, _ in spans]
        self.ends = [b for _, b in spans]
        self.sizes = list(accumulate((b - a for a, b in spans), initial=0))
        """sizes[j]: the characters in the runs before run j."""

    def within(self, lo: int, hi: int) -> range:
        """Indexes of the runs that overlap text[lo:hi]."""
        if hi <= lo:
            return range(0)
        return range(bisect_right(self.ends, lo), bisect_left(self.starts, hi))

    def covered(self, lo: int, hi: int) -> int:
        """How many characters of text[lo:hi] the runs hold."""
        runs = self.within(lo, hi)
        if not runs:
            return 0
        head = max(0, lo - self.starts[runs.start])
        tail = max(0, self.ends[runs.stop - 1] - hi)
        return self.sizes[runs.stop] - self.sizes[runs.start] - head - tail


class _Text:
    """One buffer, scanned once, answering for any piece start what a buffer beginning there would hold.

    Marks are scanned from the beginning of the buffer. From a later start the
    scan is the same but for three cases, which are looked at from that start:
    a start inside a run of marks, a mark just at the start (the digit rule),
    and a full stop whose word begins before the start (the abbreviation rule).
    """

    def __init__(self, text: str, final: bool) -> None:
        self.text = text
        self.final = final
        self.tokens = _Runs(_TOKENS, text)
        self.words = _Runs(_WORDS, text)
        self.cjk = _Runs(_CJK, text)
        self.counted = _Runs(_COUNTED, text)
        worded = [bool(self.words.within(a, b)) for a, b in zip(self.counted.starts, self.counted.ends, strict=True)]
        self.worded = list(accumulate(worded, initial=0))
        """worded[j]: how many counted runs before run j hold a word character."""
        self.runs = [match.span() for match in _MARK_RUN.finditer(text)]
        """Each run of marks, as the scan from the beginning steps over them."""
        self.sentences: list[tuple[int, int]] = []
        """The runs that are certain sentence ends, from the beginning."""
        self.clauses: list[tuple[int, int]] = []
        """The runs that are certain clause ends, from the beginning."""
        self.stops: list[tuple[int, int, int]] = []
        """Each run of a full stop that may end a sentence, with where the word before it begins."""
        for i, end in self.runs:
            if text[i] == "." and (end == len(text) or text[end].isspace()):
                word = bisect_left(self.tokens.starts, i) - 1
                self.stops.append((i, end, self.tokens.starts[word] if word >= 0 else i))
            if self._done(i, end, 0):
                (self.sentences if text[i] in SENTENCE_MARKS else self.clauses).append((i, end))

    def _done(self, i: int, end: int, start: int) -> bool:
        """Whether the run text[i:end] is a certain sentence or clause end in a buffer beginning at start."""
        text = self.text
        mark = text[i]
        if end < len(text):
            done = text[end].isspace() or mark in WIDE_MARKS
        else:
            # The mark ends the text so far: a digit before it may go on ("3." then "5").
            done = self.final or mark in WIDE_MARKS or not (i > start and text[i - 1].isdigit())
        return done and not (mark == "." and self._abbreviation(start, i))

    def _abbreviation(self, start: int, i: int) -> bool:
        """Whether the word before a full stop is an abbreviation or an initial, not a sentence end."""
        word = bisect_left(self.tokens.starts, i) - 1
        if word < 0:
            return False
        lo, hi = max(self.tokens.starts[word], start), min(self.tokens.ends[word], i)
        letter = _NOT_OPENER.search(self.text, lo, hi)
        if letter is None or hi - letter.start() > _LONGEST_ABBREVIATION:
            return False
        found = self.text[letter.start() : hi]
        return found.lower() in ABBREVIATIONS or (len(found) == 1 and found.isupper())

    def _head(self, start: int) -> tuple[int, int] | None:
        """The run of marks that begins at or holds start, as (its first mark from start, its end), if it ends there."""
        k = bisect_right(self.runs, start, key=_first) - 1
        if k < 0 or start >= self.runs[k][1]:
            return None
        end = self.runs[k][1]
        mark = _MARK.search(self.text, start, end)
        return (mark.start(), end) if mark and self._done(mark.start(), end, start) else None

    def sentence(self, start: int) -> int | None:
        """Just past the first sentence end after start."""
        head = self._head(start)
        if head and self.text[head[0]] in SENTENCE_MARKS:
            return head[1]
        stop = None
        cut: set[int] = set()
        for d in range(bisect_right(self.stops, start, key=_first), len(self.stops)):
            i, end, word = self.stops[d]
            if word >= start:
                break
            cut.add(i)  # the word before this full stop is cut by start: judge it from there
            if stop is None and self._done(i, end, start):
                stop = end
        j = bisect_right(self.sentences, start, key=_first)
        while j < len(self.sentences) and self.sentences[j][0] in cut:
            j += 1
        if j < len(self.sentences) and (stop is None or self.sentences[j][1] < stop):
            return self.sentences[j][1]
        return stop

    def clause(self, start: int, words: float) -> int | None:
        """Just past the first clause end after start that follows at least `words` words."""
        head = self._head(start)
        if head and self.text[head[0]] in CLAUSE_MARKS and self.weight(start, head[1]) >= words:
            return head[1]
        clauses = self.clauses
        lo = bisect_right(clauses, start, key=_first)
        j = _first_true(lo, len(clauses), lambda j: self.weight(start, clauses[j][1]) >= words)
        return clauses[j][1] if j < len(clauses) else None

    def weight(self, start: int, end: int) -> float:
        """Rough word count of text[start:end]: spaced words, plus half a word per CJK character."""
        runs = self.counted.within(start, end)
        words = 0
        if runs:
            words = self.worded[runs.stop] - self.worded[runs.start]
            for j in {runs.start, runs.stop - 1}:  # the runs that start or end cuts
                lo, hi = max(self.counted.starts[j], start), min(self.counted.ends[j], end)
                words += bool(self.words.within(lo, hi)) - (self.worded[j + 1] - self.worded[j])
        return words + self.cjk.covered(start, end) / 2

    def word_cut(self, start: int, end: int, words: float) -> int:
        """Cut text[start:end] after about `words` words, preferring to end on a longer word."""
        first = self.words.within(start, end)
        if not first:
            return end
        ends = self.tokens.ends  # each word's end is where a space begins
        lo = bisect_right(ends, max(self.words.starts[first.start], start))
        hi = bisect_left(ends, end)
        if lo >= hi:
            return end
        stop = max(lo + 1, _first_true(lo, hi, lambda j: self.weight(start, ends[j]) > words))
        for j in reversed(range(lo, stop)):
            if self.weight(start, ends[j]) < 3:
                break
            if len(self.text[max(self.tokens.starts[j], start) : ends[j]].strip(",;:")) >= 4:
                return ends[j]
        return ends[stop - 1]


def _first_true(lo: int, hi: int, test: Callable[[int], bool]) -> int:
    """The first index in [lo, hi) where test holds, or hi, for a test that once true stays true; quick near lo."""
    known, probe, step = lo, lo, 1
    while probe < hi and not test(probe):
        known = probe + 1
        probe += step
        step *= 2
    return bisect_left(range(hi), True, known, min(probe, hi), key=test)
