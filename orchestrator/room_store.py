"""Rooms kept on disk (`--rooms-file`), so a restarted orchestrator shard still has its rooms:
their ids, names, PINs and allowed languages, written atomically and owner-only (PINs are secrets)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict


class Saved(TypedDict):
    """One room as the file keeps it."""

    id: str
    display_name: str
    pin: str
    languages: list[str]
    created: float


@dataclass
class RoomStore:
    """A JSON file of rooms; a missing file is no rooms."""

    path: Path

    def load(self) -> list[Saved]:
        """The saved rooms; SystemExit naming the file when it cannot be read."""
        try:
            rooms = json.loads(self.path.read_text())["rooms"]
            return [
                Saved(
                    id=str(r["id"]),
                    display_name=str(r["display_name"]),
                    pin=str(r["pin"]),
                    languages=[str(c) for c in r["languages"]],
                    created=float(r["created"]),
                )
                for r in rooms
            ]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = f"--rooms-file {self.path}: cannot read the saved rooms ({error!r}); fix or remove it"
            raise SystemExit(problem) from error

    def save(self, rooms: list[Saved]) -> None:
        """Replace the file with these rooms (write a new file, then rename it over the old)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".new")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"rooms": rooms}, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)
