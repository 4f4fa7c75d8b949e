"""Where installed state (model caches, data) lives: one git-ignored folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """The state folder: $LINGUA_STATE_DIR, else .state in the repo."""
    return Path(os.environ.get("LINGUA_STATE_DIR", REPO_ROOT / ".state"))


def cache_dir(name: str) -> Path:
    """A named cache folder inside the state folder, created on demand."""
    path = state_dir() / "cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path
