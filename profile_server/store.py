"""Profiles on disk: <id>.npz (embedding, enrollment audio) and <id>.json (metadata).

Each file is written to a temporary file in the same folder, synced, then
renamed over its final name. The npz goes first and the json last: the json is
the commit marker, so a profile exists exactly when its json does. Replacing a
profile removes the old json first; deleting removes the json, then the npz
and any temporary files of the profile.
Leftover temporary files (".<name>.<random>.tmp") and npz files without a
json are ignored. A lock serializes the operations of one process.

The enrollment audio is biometric data: the folder is owner-only (0700) and so
is every file in it (0600), fixed up when a store opens. Deleting or replacing
a profile also purges what other servers cached from it in the shared state
folder (common.profile_cache).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from common import profile_cache
from common.errors import InvalidArgument, NotFound
from common.paths import write_atomic

log = logging.getLogger(__name__)

VERSION = 1
"""Format version written to every profile."""
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
FOLDER_MODE = 0o700
FILE_MODE = 0o600

Writer = Callable[[IO[bytes]], None]


def check_id(profile_id: str) -> str:
    """Return profile_id if it is a valid id, else raise InvalidArgument."""
    if not profile_id:
        raise InvalidArgument("profile_id is required")
    if not ID_PATTERN.fullmatch(profile_id):
        raise InvalidArgument(
            f"invalid profile_id {profile_id!r}: use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'"
        )
    return profile_id


@dataclass
class Profile:
    """A stored profile; embedding is None when loaded without it."""

    profile_id: str
    display_name: str
    language_code: str
    embedder: str
    dim: int
    speaker_dim: int
    sample_count: int
    speech_seconds: float
    create_time: datetime
    version: int = VERSION
    embedding: np.ndarray | None = field(default=None, repr=False)

    def metadata(self) -> dict[str, Any]:
        """The json document (everything but the embedding)."""
        doc = asdict(self)
        del doc["embedding"]
        doc["create_time"] = self.create_time.isoformat()
        return doc

    @classmethod
    def from_metadata(cls, doc: dict[str, Any]) -> Profile:
        """Parse a json document written by metadata()."""
        fields = {k: doc[k] for k in cls.__dataclass_fields__ if k != "embedding"}
        fields["create_time"] = datetime.fromisoformat(doc["create_time"])
        return cls(**fields)


def _private(write: Writer) -> Writer:
    """write, into a file made owner-only before any data goes in."""

    def private(out: IO[bytes]) -> None:
        os.fchmod(out.fileno(), FILE_MODE)
        write(out)

    return private


class ProfileStore:
    """The profiles in one folder; caches: the state folder's cache to purge derived files from (None: none)."""

    def __init__(self, root: Path, caches: Path | None = None) -> None:
        self.root = root
        self.caches = caches
        root.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._restrict()

    def _restrict(self) -> None:
        """Make the folder and every file in it owner-only."""
        os.chmod(self.root, FOLDER_MODE)
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    os.chmod(entry.path, FILE_MODE)

    def _json(self, profile_id: str) -> Path:
        return self.root / f"{profile_id}.json"

    def _npz(self, profile_id: str) -> Path:
        return self.root / f"{profile_id}.npz"

    def _sync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put(self, profile: Profile, audio: list[np.ndarray]) -> None:
        """Store (or replace) a profile with its embedding and int16 16 kHz enrollment samples."""
        if profile.embedding is None:
            raise ValueError("a stored profile needs its embedding")
        embedding = profile.embedding.astype(np.float32)
        samples = np.concatenate(audio).astype(np.int16)
        lengths = np.array([len(a) for a in audio], dtype=np.int64)
        document = json.dumps(profile.metadata(), indent=2).encode()

        def write_npz(out: IO[bytes]) -> None:
            np.savez(out, embedding=embedding, audio=samples, sample_lengths=lengths)

        def write_json(out: IO[bytes]) -> None:
            out.write(document)

        with self._lock:
            self._json(profile.profile_id).unlink(missing_ok=True)
            write_atomic(self._npz(profile.profile_id), _private(write_npz))
            write_atomic(self._json(profile.profile_id), _private(write_json))
            self._sync_dir()
            self._purge_derived(profile.profile_id)

    def _read(self, profile_id: str, embedding: bool) -> Profile:
        try:
            profile = Profile.from_metadata(json.loads(self._json(profile_id).read_bytes()))
            if embedding:
                with np.load(self._npz(profile_id)) as arrays:
                    profile.embedding = arrays["embedding"]
        except FileNotFoundError:
            raise NotFound(f"no profile with id {profile_id!r}") from None
        return profile

    def get(self, profile_id: str, embedding: bool = True) -> Profile:
        """Load one profile; NotFound if there is none."""
        check_id(profile_id)
        with self._lock:
            return self._read(profile_id, embedding)

    def enrollment(self, profile_id: str) -> tuple[Profile, list[np.ndarray]]:
        """A profile (without embedding) and its enrollment samples, int16 at 16 kHz."""
        check_id(profile_id)
        with self._lock:
            profile = self._read(profile_id, embedding=False)
            with np.load(self._npz(profile_id)) as arrays:
                cuts = np.cumsum(arrays["sample_lengths"])[:-1]
                return profile, np.split(arrays["audio"], cuts)

    def ids(self) -> list[str]:
        """Ids of all committed profiles, sorted."""
        return sorted(p.stem for p in self.root.glob("*.json") if ID_PATTERN.fullmatch(p.stem))

    def page(self, after: str, limit: int) -> tuple[list[Profile], str]:
        """Up to limit profiles with ids after `after` (without embeddings), and
        the last id returned if more follow, else ""."""
        with self._lock:
            ids = [i for i in self.ids() if i > after]
            out: list[Profile] = []
            for profile_id in ids:
                if len(out) == limit:
                    return out, out[-1].profile_id
                try:
                    out.append(self._read(profile_id, embedding=False))
                except NotFound:
                    continue
                except (ValueError, KeyError, TypeError) as err:
                    log.warning("skipping unreadable profile %s: %s", profile_id, err)
            return out, ""

    def _files(self, profile_id: str) -> list[Path]:
        """Every file of the profile in the folder, temporary ones included."""
        name = rf"{re.escape(profile_id)}\.(json|npz)"
        pattern = re.compile(rf"{name}|\.{name}\.\w+\.tmp")
        return sorted(p for p in self.root.iterdir() if pattern.fullmatch(p.name))

    def delete(self, profile_id: str) -> None:
        """Remove a profile, all its files and what was cached from it; NotFound if there is none."""
        check_id(profile_id)
        with self._lock:
            try:
                self._json(profile_id).unlink()
            except FileNotFoundError:
                raise NotFound(f"no profile with id {profile_id!r}") from None
            for path in self._files(profile_id):
                path.unlink(missing_ok=True)
            self._sync_dir()
            self._purge_derived(profile_id)

    def _purge_derived(self, profile_id: str) -> None:
        if self.caches is not None:
            for path in profile_cache.purge(profile_id, self.caches):
                log.info("removed %s, cached from profile %s", path, profile_id)
