"""What every benchmark prints and writes: an aligned text table, and JSON results with the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def machine() -> dict[str, Any]:
    """The machine a result was measured on."""
    return {"cpus": os.cpu_count(), "platform": platform.platform()}


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile, or nan without values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows (the first is the header) as columns padded to their widest cell, a rule under the header."""
    width = max(len(row) for row in rows)
    cells = [[*row, *[""] * (width - len(row))] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(width)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def write(path: Path, results: dict[str, Any]) -> None:
    """Write results as JSON (non-ASCII kept) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")
