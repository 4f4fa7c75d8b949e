"""Translation quality of every route, per direction: chrF on dev pairs picks the route, held-out pairs report it.

    .venv/bin/python -m bench.mt_routes [--pairs en-es,es-en] [--write-table]

Builds the embedded engines (Bergamot, Apertium over apertium-apy) as the server
does and, for each direction with reference translations (corpus.sets: core-sounds
prompts between en, es, fr and it, and the parallel sentences in en, es, fr, de, it,
pt), runs every chain of direct steps up to --max-steps over the dev pairs and
scores it with sacrebleu's chrF. The chosen route is the shortest of those not
significantly worse on dev than the best one (the best does not beat it in 95% of
1000 paired bootstrap resamples of the dev pairs): a pivot step costs time and
compounds errors, so it must earn its place. The chosen and the rule's route are
then scored on the held-out pairs; "wins" is the share of held-out bootstrap
resamples in which the chosen route beats the rule's. Prints a table, writes
bench/results/mt_routes.json, and with --write-table the committed
mt_server/routes.json the router follows.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sacrebleu.metrics import CHRF

from bench import report
from corpus.sets import Split, translation_pairs
from mt_server.engines.apertium import ApertiumTranslator
from mt_server.engines.base import Translator
from mt_server.engines.bergamot import BergamotTranslator
from mt_server.engines.registry import QUALITY, Route, Router, label
from mt_server.service import tidy


class Memo:
    """Runs routes step by step, remembering each step's output (routes share their first steps)."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], str] = {}

    def run(self, route: Route, text: str) -> str:
        for step in route:
            key = (step.label, text)
            if key not in self._done:
                self._done[key] = step.engine.translate(text, step.source, step.target)
            text = self._done[key]
        return tidy(text)


RESAMPLES = 1000
CONFIDENCE = 0.95


def statistics(memo: Memo, route: Route, pairs: list[tuple[str, str]]) -> np.ndarray:
    """chrF's per-sentence statistics of a route's output against the references (one row per pair)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        hypotheses = list(pool.map(lambda pair: memo.run(route, pair[0]), pairs))
    return np.asarray(CHRF()._extract_corpus_statistics(hypotheses, [[reference for _, reference in pairs]]))


def chrf(stats: np.ndarray) -> float:
    """Corpus chrF from per-sentence statistics."""
    return float(CHRF()._compute_score_from_stats(list(stats.sum(axis=0))).score)


def wins(candidate: np.ndarray, baseline: np.ndarray) -> float:
    """The share of paired bootstrap resamples in which candidate's chrF is higher than baseline's."""
    rng = np.random.default_rng(0)
    count = 0
    for _ in range(RESAMPLES):
        rows = rng.integers(0, len(candidate), len(candidate))
        count += chrf(candidate[rows]) > chrf(baseline[rows])
    return count / RESAMPLES


def measure(router: Router, memo: Memo, source: str, target: str, dev: list, test: list) -> dict:
    """Every candidate route's dev chrF; the chosen route's and the rule route's held-out chrF."""
    rule = router.rule_route(source, target)
    assert rule is not None
    routes = {label(r): r for r in router.candidates(source, target)}
    stats = {name: statistics(memo, r, dev) for name, r in routes.items()}
    scored = sorted(((chrf(s), name) for name, s in stats.items()), key=lambda c: (-c[0], len(c[1])))
    rule_stats = stats[label(rule)]
    top = scored[0][1]
    pool = [
        (len(name), -score, name) for score, name in scored if name == top or wins(stats[top], stats[name]) < CONFIDENCE
    ]
    best = min(pool)[2]
    test_best, test_rule = statistics(memo, routes[best], test), statistics(memo, rule, test)
    out = {
        "source": source,
        "target": target,
        "dev_pairs": len(dev),
        "test_pairs": len(test),
        "chosen": {
            "route": list(best),
            "dev_chrf": chrf(stats[best]),
            "test_chrf": chrf(test_best),
            "test_wins_over_rule": wins(test_best, test_rule) if best != label(rule) else None,
        },
        "rule": {
            "route": list(label(rule)),
            "dev_chrf": chrf(rule_stats),
            "test_chrf": chrf(test_rule),
        },
        "candidates": [{"route": list(name), "dev_chrf": score} for score, name in scored],
    }
    return out


def table(pairs: list[dict]) -> str:
    rows = [("pair", "dev/test", "rule route", "rule test chrF", "chosen route", "dev chrF", "test chrF", "wins")]
    for p in pairs:
        rows.append(
            (
                f"{p['source']}->{p['target']}",
                f"{p['dev_pairs']}/{p['test_pairs']}",
                " > ".join(p["rule"]["route"]),
                f"{p['rule']['test_chrf']:.1f}",
                " > ".join(p["chosen"]["route"]),
                f"{p['chosen']['dev_chrf']:.1f}",
                f"{p['chosen']['test_chrf']:.1f}",
                "" if p["chosen"]["test_wins_over_rule"] is None else f"{p['chosen']['test_wins_over_rule']:.2f}",
            )
        )
    return report.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="", help="only these directions (en-es,es-en); default every measurable one")
    parser.add_argument("--max-steps", type=int, default=3, help="longest route tried")
    parser.add_argument("--out", type=Path, default=Path("bench/results/mt_routes.json"))
    parser.add_argument("--write-table", action="store_true", help=f"also write {QUALITY} (full runs only)")
    args = parser.parse_args()
    if args.write_table and args.pairs:
        parser.error("--write-table needs a full run (no --pairs)")
    engines: list[Translator] = [BergamotTranslator(), ApertiumTranslator()]
    try:
        router = Router(engines, max_steps=args.max_steps, quality={})
        wanted = {tuple(p.split("-")) for p in args.pairs.split(",") if p}
        results = []
        memo = Memo()
        for source, target in sorted(router.routes()):
            if wanted and (source, target) not in wanted:
                continue
            splits: dict[Split, list] = {s: translation_pairs(source, target, s) for s in ("dev", "test")}
            if not splits["dev"] or not splits["test"]:
                continue
            results.append(measure(router, memo, source, target, splits["dev"], splits["test"]))
            print(f"{source}->{target}: {' > '.join(results[-1]['chosen']['route'])}", flush=True)
    finally:
        for engine in engines:
            engine.close()
    print(table(results))
    made = {"machine": report.machine(), "engines": [e.name for e in engines], "pairs": results}
    report.write(args.out, made)
    if args.write_table:
        report.write(QUALITY, {**made, "made_by": "python -m bench.mt_routes --write-table"})


if __name__ == "__main__":
    main()
