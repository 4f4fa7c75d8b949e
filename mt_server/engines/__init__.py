"""Translation engines and the --engine registry that builds a Router from them."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from mt_server.engines.base import Translator
from mt_server.engines.registry import Router

Factory = Callable[[argparse.Namespace], list[Translator]]
"""Builds the engines of one --engine choice, most preferred first."""


def _apertium(args: argparse.Namespace) -> list[Translator]:
    from mt_server.engines.apertium import ApertiumTranslator

    return [ApertiumTranslator(args.apy_python, args.apy_modes, wait=args.apy_wait_seconds)]


def _bergamot(args: argparse.Namespace) -> list[Translator]:
    from mt_server.engines.bergamot import BergamotTranslator

    return [BergamotTranslator()]


def _embedded(args: argparse.Namespace) -> list[Translator]:
    return _bergamot(args) + _apertium(args)


ENGINES: dict[str, Factory] = {
    "embedded": _embedded,
    "apertium": _apertium,
    "bergamot": _bergamot,
}
"""--engine choices; "embedded" prefers neural Bergamot and falls back to Apertium."""


def build(name: str, args: argparse.Namespace) -> Router:
    """Build the engines for an --engine choice and route over them."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}") from None
    return Router(factory(args), max_steps=args.max_steps)
