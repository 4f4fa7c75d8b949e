"""DeepL through the official `deepl` client: every pair DeepL lists, native glossaries and formality.

The auth key comes from DEEPL_AUTH_KEY and is never logged. Glossaries are
content-addressed: one DeepL glossary per (source, target, entries), named
lingua-<hash>, found again after a restart instead of piling up. Pairs DeepL
has no glossaries for get the terms through the service's placeholders.
"""

from __future__ import annotations

import hashlib
import logging
import threading

import deepl
from deepl import http_client

from common.errors import Unavailable
from mt_server.engines.base import NO_HINTS, Hints
from mt_server.glossary import Protection

log = logging.getLogger(__name__)

TARGET_VARIANT = {"en": "EN-US", "pt": "PT-BR", "zh": "ZH-HANS"}
"""DeepL target code for languages it only offers in regional variants."""
RETRIES = 1
"""Network retries per call: a conversation cannot wait through DeepL's default back-off."""
TIMEOUT_S = 5.0


def glossary_name(source: str, target: str, entries: tuple[tuple[str, str], ...]) -> str:
    """The content-addressed name of a glossary."""
    digest = hashlib.sha256(repr((source, target, entries)).encode()).hexdigest()[:20]
    return f"lingua-{digest}"


def _base(code: str) -> str:
    """ "PT-BR" -> "pt"."""
    return code.split("-")[0].lower()


def _target_code(base: str, offered: set[str]) -> str:
    """The DeepL target code for a base language: the preferred variant, the plain code, else the first variant."""
    for code in (TARGET_VARIANT.get(base, ""), base.upper()):
        if code in offered:
            return code
    return min(code for code in offered if _base(code) == base)


class DeepLTranslator:
    """Translates over the DeepL API; thread-safe."""

    name = "deepl"
    native_glossary = True

    def __init__(self, auth_key: str, server_url: str = "") -> None:
        http_client.max_network_retries = RETRIES
        http_client.min_connection_timeout = TIMEOUT_S
        self._client = deepl.Translator(auth_key, server_url=server_url or None, send_platform_info=False)
        self._lock = threading.Lock()
        try:
            sources = {lang.code.lower() for lang in self._client.get_source_languages()}
            targets = self._client.get_target_languages()
            glossary_pairs = self._client.get_glossary_languages()
            existing = self._client.list_glossaries()
        except deepl.DeepLException as err:
            raise Unavailable(f"DeepL at {self._client.server_url}: {err}") from None
        offered = {lang.code.upper() for lang in targets}
        self._targets = {_base(code): _target_code(_base(code), offered) for code in offered}
        self._formal = {_base(lang.code) for lang in targets if lang.supports_formality}
        self._pairs = frozenset((s, t) for s in sources for t in self._targets if s != t)
        self._glossary_pairs = {(p.source_lang.lower(), p.target_lang.lower()) for p in glossary_pairs}
        self._glossaries = {g.name: g.glossary_id for g in existing if g.name.startswith("lingua-")}
        log.info(
            "DeepL at %s: %d source and %d target languages, %d glossary pairs",
            self._client.server_url,
            len(sources),
            len(self._targets),
            len(self._glossary_pairs),
        )

    def pairs(self) -> frozenset[tuple[str, str]]:
        return self._pairs

    def pair_label(self, source: str, target: str) -> str:
        return f"{source.upper()}-{self._targets[target]}"

    def translate(self, text: str, source: str, target: str, hints: Hints = NO_HINTS) -> str:
        protected = None
        glossary = None
        if hints.glossary and (source, target) in self._glossary_pairs:
            glossary = self._glossary(source, target, hints.glossary)
        elif hints.glossary:
            protected = Protection(dict(hints.glossary)).protect(text)
            text = protected.text
        formality = f"prefer_{hints.formality}" if hints.formality and target in self._formal else None
        try:
            result = self._client.translate_text(
                text,
                source_lang=source.upper(),
                target_lang=self._targets[target],
                formality=formality,
                glossary=glossary,
            )
        except deepl.DeepLException as err:
            raise Unavailable(f"DeepL failed on {source}->{target}: {err}") from None
        translated = result.text if isinstance(result, deepl.TextResult) else result[0].text
        return protected.restore(translated) if protected else translated

    def _glossary(self, source: str, target: str, entries: tuple[tuple[str, str], ...]) -> str:
        """The id of the glossary with these entries, created on first use."""
        name = glossary_name(source, target, entries)
        with self._lock:
            glossary_id = self._glossaries.get(name)
            if glossary_id is None:
                try:
                    info = self._client.create_glossary(name, source.upper(), target.upper(), dict(entries))
                except deepl.DeepLException as err:
                    raise Unavailable(f"DeepL glossary for {source}->{target}: {err}") from None
                glossary_id = self._glossaries[name] = info.glossary_id
                log.info("created DeepL glossary %s (%s->%s, %d entries)", name, source, target, len(entries))
            return glossary_id

    def warm_up(self) -> None:
        """Nothing to load: the client connected while listing languages (each translation is billed)."""

    def close(self) -> None:
        self._client.close()
