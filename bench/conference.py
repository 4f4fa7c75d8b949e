"""End of speech to first translated audio over real SIP calls, on the embedded engines.

    .venv/bin/python -m bench.conference [--prompts 12]

Runs the demo conference (Asterisk, the four servers, the orchestrator, two baresip
callers) with the English caller reading N core-sounds prompts, prints the
orchestrator's latency table and writes it to bench/results/conference[-no-partials].json.
"""

from __future__ import annotations

import argparse

from clients import demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=12, help="utterances the speaker reads")
    parser.add_argument("--no-partials", action="store_true", help="orchestrator without STT partials")
    args = parser.parse_args()
    name = "conference-no-partials" if args.no_partials else "conference"
    extra = ["--no-partials"] if args.no_partials else []
    demo.main(["--prompts", str(args.prompts), "--json", f"bench/results/{name}.json", *extra])


if __name__ == "__main__":
    main()
