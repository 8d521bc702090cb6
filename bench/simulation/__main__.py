"""Run the cheat simulation on its own and print its table.

    .venv/bin/python -m bench.simulation [--quick] [--seeds 1 2 3] [--json out.json]
        [--detection '{"swarm": {"min_co_actions": 3}}']

Wrap it in ``flock /tmp/bench.lock`` on a shared box: a default run keeps one core busy for a while.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.simulation import render, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simulation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one seed, one day, a small population")
    parser.add_argument("--seeds", type=int, nargs="+", help="the seeds to run (default 1 2 3)")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--detection", type=json.loads,
                        help="a JSON [detection] table to use instead of the catalog's (to try knobs)")
    args = parser.parse_args(argv)
    found = run(quick=args.quick, seeds=args.seeds, detection=args.detection,
                progress=lambda note: print(note, file=sys.stderr))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(found, file, indent=2, sort_keys=True)
    print(render(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
