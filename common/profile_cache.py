"""Caches of data other servers derive from a voice profile (a cloned voice's conditioning), and their removal.

Such a cache is the folder <state>/cache/<name> (common.paths.cache_dir) for a
name in DERIVED, with one file per profile enrollment named by key(): the
profile id made filename-safe and cut to 48 characters, "-", then 24 hex digits
hashing the id and whatever else the entry depends on. Deleting or re-enrolling
a profile makes the profile server purge() its entries when it shares the
state folder with the servers that cache; a caching server purges its own when
the profile server no longer has the profile. Like the profiles themselves, these
folders are owner-only (0700) and their files too (0600): private_folder() and write().
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

from common.paths import state_dir, write_atomic

XTTS_LATENTS = "xtts-latents"
"""XTTS conditioning latents, one .npz per profile enrollment and model."""
DERIVED = (XTTS_LATENTS,)
"""Every cache folder that holds data derived from profiles."""
STEM_CHARS = 48
DIGEST_CHARS = 24
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def _stem(profile_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", profile_id)[:STEM_CHARS]


def key(profile_id: str, *parts: str) -> str:
    """A cache file's name without its extension: the readable id, then a hash of the id and parts."""
    digest = hashlib.sha256("|".join((profile_id, *parts)).encode()).hexdigest()[:DIGEST_CHARS]
    return f"{_stem(profile_id)}-{digest}"


def files(folder: Path, profile_id: str) -> list[Path]:
    """The profile's files in one cache folder, temporary ones included, sorted.

    Ids longer than 48 characters that start alike share these files.
    """
    name = rf"{re.escape(_stem(profile_id))}-[0-9a-f]{{{DIGEST_CHARS}}}\.\w+"
    pattern = re.compile(rf"{name}|\.{name}\.\w+\.tmp")
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if pattern.fullmatch(path.name))


def purge(profile_id: str, root: Path | None = None) -> list[Path]:
    """Remove the profile's files from every derived cache under root (default <state>/cache); the paths removed."""
    caches = root if root is not None else state_dir() / "cache"
    removed = []
    for name in DERIVED:
        for path in files(caches / name, profile_id):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def private_folder(folder: Path) -> Path:
    """folder, created if need be, made owner-only with every file in it (ones written by older versions too)."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(folder, FOLDER_MODE)
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                os.chmod(entry.path, FILE_MODE)
    return folder


def write(path: Path, data: Callable[[IO[bytes]], None]) -> None:
    """Write a cache file atomically (common.paths.write_atomic), owner-only before any data goes in."""

    def private(out: IO[bytes]) -> None:
        os.fchmod(out.fileno(), FILE_MODE)
        data(out)

    write_atomic(path, private)
