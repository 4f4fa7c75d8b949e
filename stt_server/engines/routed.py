"""A recognizer that sends some languages to their own model (English to tiny.en) and the rest to a multilingual one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stt_server.engines.base import Recognizer, Transcript


class RoutedRecognizer:
    """Dispatches each decode by its language; detection (language None) runs on the multilingual model."""

    def __init__(self, default: Recognizer, dedicated: dict[str, Recognizer]) -> None:
        self._default = default
        self._dedicated = dedicated
        self.languages = default.languages | frozenset(dedicated)
        self.max_seconds = min([default.max_seconds, *(r.max_seconds for r in dedicated.values())])
        self.workers = default.workers

    def decode(
        self,
        audio: np.ndarray,
        language: str | None,
        prefix: str,
        final: bool,
        abandoned: Callable[[], bool] = lambda: False,
        allowed: frozenset[str] = frozenset(),
    ) -> Transcript | None:
        """Decode with the language's own model, else the multilingual one."""
        recognizer = self._dedicated.get(language, self._default) if language else self._default
        return recognizer.decode(audio, language, prefix, final, abandoned, allowed)

    def warm_up(self) -> None:
        """Warm up every model."""
        for recognizer in (self._default, *self._dedicated.values()):
            recognizer.warm_up()
