"""Routing: which engine steps translate a language pair, directly or through pivot languages.

Where the committed quality table (mt_server/routes.json, written by
`python -m bench.mt_routes --write-table`) measured a pair, the route with the best
chrF on the development pairs wins; every other pair takes the rule: fewest steps,
then through English, then preferred engines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.errors import InvalidArgument
from common.languages import require_supported
from mt_server.engines.base import NO_HINTS, Hints, Translator

log = logging.getLogger(__name__)

PIVOT = "en"
"""The preferred intermediate language when no engine translates a pair directly."""


@dataclass(frozen=True)
class Step:
    """One engine translating one direct pair."""

    engine: Translator
    source: str
    target: str
    rank: int
    """Position of the engine in the registry's preference order (0 = preferred)."""

    @property
    def label(self) -> str:
        """The route string, e.g. "apertium:eng-spa"."""
        return f"{self.engine.name}:{self.engine.pair_label(self.source, self.target)}"


Route = tuple[Step, ...]
"""Steps applied in order; more than one means a pivot, none means source == target."""

QUALITY = Path(__file__).resolve().parent.parent / "routes.json"


@dataclass(frozen=True)
class Measured:
    """A pair's measured best route (by dev chrF) and that route's held-out chrF."""

    route: tuple[str, ...]
    """Step labels, e.g. ("bergamot:en-pt", "apertium:por-spa")."""
    chrf: float


def load_quality(engines: Sequence[str] | None = None, path: Path = QUALITY) -> dict[tuple[str, str], Measured]:
    """The committed quality table: (source, target) -> its measured best route.

    Empty without a table, or when engines (names, in preference order) differ from those it was measured on.
    """
    if not path.exists():
        return {}
    table = json.loads(path.read_text(encoding="utf-8"))
    if engines is not None and list(engines) != table["engines"]:
        return {}
    pairs = table["pairs"]
    return {(p["source"], p["target"]): Measured(tuple(p["chosen"]["route"]), p["chosen"]["test_chrf"]) for p in pairs}


def label(route: Route) -> tuple[str, ...]:
    """A route's step labels."""
    return tuple(step.label for step in route)


class Router:
    """Routes every reachable pair over the engines' direct pairs.

    A pair the quality table measured (on this same set of engines) takes its
    best measured route. Otherwise a direct pair uses the first engine (in the
    given preference order) that has it, and other pairs the shortest chain of
    direct pairs, up to max_steps, preferring chains through English, then chains
    of preferred engines.
    """

    def __init__(
        self,
        engines: Sequence[Translator],
        max_steps: int = 3,
        quality: dict[tuple[str, str], Measured] | None = None,
    ) -> None:
        self.engines = list(engines)
        direct: dict[tuple[str, str], Step] = {}
        for rank, engine in enumerate(self.engines):
            for source, target in sorted(engine.pairs()):
                if source != target and (source, target) not in direct:
                    direct[source, target] = Step(engine, source, target, rank)
        self._direct = direct
        self.languages = frozenset(lang for pair in direct for lang in pair)
        self._routes: dict[tuple[str, str], Route] = {}
        self._candidates: dict[tuple[str, str], list[Route]] = {}
        for source in sorted(self.languages):
            for route in self._chains(source, max_steps):
                key = (source, route[-1].target)
                self._candidates.setdefault(key, []).append(route)
                best = self._routes.get(key)
                if best is None or _preference(route) < _preference(best):
                    self._routes[key] = route
        self._rule = dict(self._routes)
        self.scores: dict[tuple[str, str], float] = {}
        measured_table = load_quality([e.name for e in self.engines]) if quality is None else quality
        for key, measured in measured_table.items():
            found = next((r for r in self._candidates.get(key, []) if label(r) == measured.route), None)
            if found is not None:
                self._routes[key] = found
                self.scores[key] = measured.chrf
            else:
                log.warning("measured route %s for %s is unavailable; using the rule", " > ".join(measured.route), key)

    def _chains(self, source: str, max_steps: int) -> Iterator[Route]:
        """Every chain of direct steps from source that visits no language twice."""
        stack: list[Route] = [(step,) for pair, step in sorted(self._direct.items()) if pair[0] == source]
        while stack:
            route = stack.pop()
            yield route
            if len(route) < max_steps:
                seen = {source, *(step.target for step in route)}
                for (src, tgt), step in sorted(self._direct.items()):
                    if src == route[-1].target and tgt not in seen:
                        stack.append((*route, step))

    def routes(self) -> dict[tuple[str, str], Route]:
        """Every supported (source, target) pair and its route."""
        return dict(sorted(self._routes.items()))

    def candidates(self, source: str, target: str) -> list[Route]:
        """Every chain of direct steps (up to max_steps) from source to target."""
        return list(self._candidates.get((source, target), []))

    def rule_route(self, source: str, target: str) -> Route | None:
        """The route the rule alone picks (fewest steps, through English, preferred engines)."""
        return self._rule.get((source, target))

    def route(self, source_tag: str, target_tag: str) -> tuple[str, str, Route]:
        """Normalize two BCP-47 tags and return (source, target, route); InvalidArgument if unsupported."""
        source = require_supported(source_tag, self.languages, "source")
        target = require_supported(target_tag, self.languages, "target")
        if source == target:
            return source, target, ()
        route = self._routes.get((source, target))
        if route is None:
            reachable = sorted(tgt for src, tgt in self._routes if src == source)
            raise InvalidArgument(
                f"cannot translate {source_tag!r} to {target_tag!r}; from {source!r} the targets are: "
                f"{', '.join(reachable) or 'none'}"
            )
        return source, target, route

    def run(self, route: Route, text: str, hints: Hints = NO_HINTS) -> str:
        """Translate text through each step of route (blocking); the last step, which makes the target, gets hints."""
        for i, step in enumerate(route, 1):
            text = step.engine.translate(text, step.source, step.target, hints if i == len(route) else NO_HINTS)
        return text

    def warm_up(self) -> None:
        """Warm every engine up."""
        for engine in self.engines:
            engine.warm_up()

    def close(self) -> None:
        """Close every engine."""
        for engine in self.engines:
            try:
                engine.close()
            except Exception:
                log.exception("closing engine %s failed", engine.name)


def _preference(route: Route) -> tuple[int, int, int, tuple[str, ...]]:
    """Sort key: fewer steps, then through English, then preferred engines, then by name."""
    through_pivot = any(step.target == PIVOT for step in route[:-1])
    return (len(route), 0 if through_pivot else 1, sum(step.rank for step in route), tuple(s.label for s in route))
