"""Translation engines and the --engine registry that builds a Router from them."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable

from common.errors import Unavailable
from mt_server.engines.base import Translator
from mt_server.engines.registry import Router

log = logging.getLogger(__name__)

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


def _deepl(args: argparse.Namespace) -> list[Translator]:
    """DeepL first, then the embedded engines (for pairs it lacks); only those without a key or a reachable DeepL."""
    key = os.environ.get("DEEPL_AUTH_KEY", "").strip()
    if not key:
        log.warning("DEEPL_AUTH_KEY is not set: DeepL is off, translating with the embedded engines")
        return _embedded(args)
    from mt_server.engines.deepl import DeepLTranslator

    try:
        engine = DeepLTranslator(key, args.deepl_server_url)
    except Unavailable as err:
        log.error("%s: DeepL is off, translating with the embedded engines", err)
        return _embedded(args)
    return [engine, *_embedded(args)]


ENGINES: dict[str, Factory] = {
    "embedded": _embedded,
    "deepl": _deepl,
    "apertium": _apertium,
    "bergamot": _bergamot,
}
"""--engine choices; "embedded" prefers neural Bergamot and falls back to Apertium; "deepl" puts DeepL first."""


def build(name: str, args: argparse.Namespace) -> Router:
    """Build the engines for an --engine choice and route over them."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}") from None
    return Router(factory(args), max_steps=args.max_steps)
