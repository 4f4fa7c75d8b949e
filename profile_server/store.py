"""Profiles on disk: <id>.npz (embedding, enrollment audio) and <id>.json (metadata).

Each file is written to a temporary file in the same folder, synced, then
renamed over its final name. The npz goes first and the json last: the json is
the commit marker, so a profile exists exactly when its json does. Replacing a
profile removes the old json first; deleting removes the json, then the npz.
Leftover temporary files (".<name>.<random>.tmp") and npz files without a
json are ignored. A lock serializes the operations of one process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from common.errors import InvalidArgument, NotFound
from common.paths import write_atomic

log = logging.getLogger(__name__)

VERSION = 1
"""Format version written to every profile."""
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


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


class ProfileStore:
    """The profiles in one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

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
            write_atomic(self._npz(profile.profile_id), write_npz)
            write_atomic(self._json(profile.profile_id), write_json)
            self._sync_dir()

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

    def delete(self, profile_id: str) -> None:
        """Remove a profile; NotFound if there is none."""
        check_id(profile_id)
        with self._lock:
            try:
                self._json(profile_id).unlink()
            except FileNotFoundError:
                raise NotFound(f"no profile with id {profile_id!r}") from None
            self._npz(profile_id).unlink(missing_ok=True)
            self._sync_dir()
