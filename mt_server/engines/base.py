"""The interface every translation engine implements."""

from __future__ import annotations

from typing import Protocol


class Translator(Protocol):
    """A machine-translation engine for a fixed set of direct language pairs.

    Languages are base ISO 639-1 codes ("en", "es"). translate() is blocking and
    is called from worker threads, so it must be thread-safe.
    """

    name: str
    """Short engine name used in routes ("apertium")."""

    def pairs(self) -> frozenset[tuple[str, str]]:
        """The (source, target) pairs this engine translates directly."""
        ...

    def pair_label(self, source: str, target: str) -> str:
        """How the engine names a pair in routes ("eng-spa", "en-pt")."""
        ...

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate text; raise common.errors.Unavailable if the backend is down."""
        ...

    def close(self) -> None:
        """Release processes and models."""
        ...
