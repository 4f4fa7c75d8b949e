"""The interface every translation engine implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Formality = Literal["", "more", "less"]
"""The register a request asks for; "" is the engine's default."""


@dataclass(frozen=True)
class Hints:
    """What a request asks beyond the text, for engines that can do it themselves."""

    formality: Formality = ""
    glossary: tuple[tuple[str, str], ...] = ()
    """(source term, target term) pairs, for engines with native glossaries only."""


NO_HINTS = Hints()


class Translator(Protocol):
    """A machine-translation engine for a fixed set of direct language pairs.

    Languages are base ISO 639-1 codes ("en", "es"). translate() is blocking and
    is called from worker threads, so it must be thread-safe.
    """

    name: str
    """Short engine name used in routes ("apertium")."""
    native_glossary: bool
    """Whether translate() applies Hints.glossary itself; otherwise the service
    protects glossary terms with placeholders and passes none."""

    def pairs(self) -> frozenset[tuple[str, str]]:
        """The (source, target) pairs this engine translates directly."""
        ...

    def pair_label(self, source: str, target: str) -> str:
        """How the engine names a pair in routes ("eng-spa", "en-pt")."""
        ...

    def translate(self, text: str, source: str, target: str, hints: Hints = NO_HINTS) -> str:
        """Translate text, honouring the hints the engine supports; raise
        common.errors.Unavailable if the backend is down."""
        ...

    def warm_up(self) -> None:
        """Load what the first request would otherwise wait for."""
        ...

    def close(self) -> None:
        """Release processes and models."""
        ...


def translate_every_pair(engine: Translator) -> None:
    """Warm an engine up by translating a short sentence on each of its pairs."""
    for source, target in sorted(engine.pairs()):
        engine.translate("Hello, how are you?", source, target)
