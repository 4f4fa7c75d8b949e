"""Where installed state (model caches, data) lives: one git-ignored folder; atomic file writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """The state folder: $LINGUA_STATE_DIR, else .state in the repo."""
    return Path(os.environ.get("LINGUA_STATE_DIR", REPO_ROOT / ".state"))


def cache_dir(name: str) -> Path:
    """A named cache folder inside the state folder, created on demand."""
    path = state_dir() / "cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(path: Path, data: bytes | Callable[[IO[bytes]], None]) -> None:
    """Write data (bytes, or a function writing to the file) so that readers see the old file or the whole new one.

    The data goes to ".<name>.<random>.tmp" beside path, is synced, then renamed
    over path; if writing fails, the temporary file is removed and path is untouched.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, bytes):
                out.write(data)
            else:
                data(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
