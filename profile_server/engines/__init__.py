"""Embedder registry: the --engine flag picks one by name; models load only when picked."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from common.models import offline_hubs
from profile_server.engines.base import Embedder, Embedding, Similarity, combine, compare


def _embedded(args: argparse.Namespace) -> Embedder:
    from profile_server.engines.embedded import ResemblyzerEmbedder

    return ResemblyzerEmbedder()


def _ecapa(args: argparse.Namespace) -> Embedder:
    offline_hubs()
    from profile_server.engines.ecapa import EcapaEmbedder

    return EcapaEmbedder(args.model_dir, args.device)


ENGINES: dict[str, Callable[[argparse.Namespace], Embedder]] = {"embedded": _embedded, "ecapa": _ecapa}
"""Engine name -> factory taking the parsed flags."""


def build(name: str, args: argparse.Namespace) -> Embedder:
    """Make the named embedder; unknown names raise ValueError."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}") from None
    return factory(args)


__all__ = ["ENGINES", "Embedder", "Embedding", "Similarity", "build", "combine", "compare"]
