"""Compute time of the production engines, on random-weight models of their real architectures.

    .venv/bin/python -m bench.production [--only nemo,xtts,ecapa] [--device auto|cpu|cuda] [--out PATH]

Random weights have the real layer sizes, so the arithmetic per step matches
the released models; what random weights cannot tell (when XTTS would stop
talking, what the transcript says) each row's note states. NeMo: latency per
streaming chunk per lookahead; XTTS: first chunk and real-time factor; ECAPA:
milliseconds per second of audio. DeepL is a remote service: its latency is
the network's and is not measured here. Writes bench/results/production[-DEVICE].json.
"""

from __future__ import annotations

import argparse
import importlib
import platform
from pathlib import Path

import torch

from bench import report

ENGINES = ("nemo", "xtts", "ecapa")
COLUMNS = ("stage", "case", "p50_ms", "p95_ms", "rtf", "note")


def table(rows: list[dict[str, object]]) -> str:
    """The rows as an aligned text table."""

    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) and value < 10 else str(value)

    return report.table([list(COLUMNS), *([cell(row.get(c, "")) for c in COLUMNS] for row in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(ENGINES), help="comma-separated engines to time")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the models run")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default by device)")
    args = parser.parse_args()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engines {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    rows: list[dict[str, object]] = []
    for name in chosen:
        module = importlib.import_module(f"bench.models.{name}")
        rows += module.benchmark(device)
    machine = {
        **report.machine(),
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    print(table(rows))
    report.write(args.out or Path(f"bench/results/production-{device}.json"), {"machine": machine, "rows": rows})


if __name__ == "__main__":
    main()
