"""Routing: which engine steps translate a language pair, directly or through pivot languages."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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


class Router:
    """Routes every reachable pair over the engines' direct pairs.

    A direct pair uses the first engine (in the given preference order) that has
    it. Other pairs take the shortest chain of direct pairs, up to max_steps,
    preferring chains through English, then chains of preferred engines.
    """

    def __init__(self, engines: Sequence[Translator], max_steps: int = 3) -> None:
        self.engines = list(engines)
        direct: dict[tuple[str, str], Step] = {}
        for rank, engine in enumerate(self.engines):
            for source, target in sorted(engine.pairs()):
                if source != target and (source, target) not in direct:
                    direct[source, target] = Step(engine, source, target, rank)
        self._direct = direct
        self.languages = frozenset(lang for pair in direct for lang in pair)
        self._routes: dict[tuple[str, str], Route] = {}
        for source in sorted(self.languages):
            for route in self._chains(source, max_steps):
                key = (source, route[-1].target)
                best = self._routes.get(key)
                if best is None or _preference(route) < _preference(best):
                    self._routes[key] = route

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
