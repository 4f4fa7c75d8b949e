"""Embedder registry: the --engine flag picks one by name; models load only when picked."""

from __future__ import annotations

from collections.abc import Callable

from profile_server.engines.base import Embedder, Embedding, Similarity, combine, compare


def _embedded() -> Embedder:
    from profile_server.engines.embedded import ResemblyzerEmbedder

    return ResemblyzerEmbedder()


ENGINES: dict[str, Callable[[], Embedder]] = {"embedded": _embedded}
"""Engine name -> factory."""


def build(name: str) -> Embedder:
    """Make the named embedder; unknown names raise ValueError."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}") from None
    return factory()


__all__ = ["ENGINES", "Embedder", "Embedding", "Similarity", "build", "combine", "compare"]
