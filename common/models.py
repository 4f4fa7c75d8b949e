"""Local model folders of the production engines: weights are never downloaded at run time.

Each production engine loads from a folder given by its server's flag, else
.state/models/<name>. A missing folder or file stops the server at start with a
message naming the path and where docs/production.md says to get it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from common.paths import state_dir

DOCS = "docs/production.md"
HUB_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
"""Environment that keeps the Hugging Face libraries from reaching for a hub."""


class ModelMissing(SystemExit):
    """A production model's folder or file is not where the server was told to look."""


def models_dir() -> Path:
    """Where production models live unless a flag says otherwise: .state/models."""
    return state_dir() / "models"


def model_path(given: str | Path | None, name: str, required: Sequence[str] = (), section: str = "") -> Path:
    """The model folder (given, else .state/models/name), checked to hold every required file.

    A required entry may be a glob ("*.nemo"); ModelMissing names the first path absent.
    """
    folder = Path(given) if given else models_dir() / name
    where = f"{DOCS}#{section}" if section else DOCS
    if not folder.exists():
        raise ModelMissing(f"{name}: model folder {folder} does not exist; see {where} for what to put there")
    for entry in required:
        present = any(folder.glob(entry)) if any(c in entry for c in "*?[") else (folder / entry).exists()
        if not present:
            raise ModelMissing(f"{name}: {folder / entry} is missing; see {where} for what to put there")
    return folder


def offline_hubs() -> None:
    """Turn the Hugging Face libraries offline (unless the environment says otherwise); call before importing them."""
    for name, value in HUB_OFFLINE.items():
        os.environ.setdefault(name, value)


def torch_device(choice: str) -> str:
    """The torch device for a --device flag: auto is cuda when torch sees a GPU, else cpu."""
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    return choice
