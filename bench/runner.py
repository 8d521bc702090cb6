"""``scoreboard bench``: run the scenarios, write ``bench/results/latest.json``, update the docs.

Each scenario runs on its own isolated world of the local stack (``scoreboard stack up`` first),
with a progress bar and a bounded duration; the full run takes about seven minutes on two cores.
``--only`` runs some scenarios and keeps the other sections of the previous latest.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from bench import machine, plot, report, results
from bench.load import LoadGeneratorMissing, ensure_wrk

SCENARIOS = ("ingest", "read", "e2e", "fanout", "rebuild", "abuse")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scoreboard bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="run only this scenario (repeatable)")
    parser.add_argument("--quick", action="store_true", help="short windows and small counts (a smoke run)")
    parser.add_argument("--rebuild-events", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true",
                        help="record the api with py-spy during the ingest and the read (memory) windows "
                             "(bench/results/raw/)")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md and the plot")
    return parser


def _preflight(chosen: tuple[str, ...], docs: bool) -> None:
    if docs:
        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            raise SystemExit("scoreboard bench: matplotlib is missing; install the bench extra: "
                             ".venv/bin/pip install -e '.[bench]' (or pass --no-docs)") from exc
    if "ingest" in chosen or "read" in chosen:
        try:
            ensure_wrk()
        except LoadGeneratorMissing as exc:
            raise SystemExit(f"scoreboard bench: {exc}") from exc


def _bar(desc: str, total: float, unit: str = "s") -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                "{n:.0f}/{total:.0f} {unit} [{elapsed}]")


def _run_ingest(quick: bool, profile: bool) -> dict[str, Any]:
    from bench.scenarios import ingest

    plan = ingest.IngestPlan(seconds=5 if quick else 15, warmup_seconds=1 if quick else 3, profile=profile)
    bar = _bar("ingest (bare, seed, floor, api)", plan.seconds * len(ingest.TARGETS))
    offsets = {target: i * plan.seconds for i, target in enumerate(ingest.TARGETS)}

    def tick(target: str, done: float) -> None:
        bar.n = min(bar.total, offsets[target] + done)
        bar.set_description(f"ingest: {target}")
        bar.refresh()
    measured = ingest.run(plan, tick)
    bar.close()
    return {target: result.to_json() for target, result in measured.items()}


def _run_read(quick: bool, profile: bool) -> dict[str, Any]:
    from bench.scenarios import read

    plan = read.ReadPlan(seconds=5 if quick else 15, warmup_seconds=1 if quick else 3,
                         users=500 if quick else 3000, profile=profile)
    bar = _bar("read (bare, memory, redis)", plan.seconds * len(read.TARGETS))
    offsets = {target: i * plan.seconds for i, target in enumerate(read.TARGETS)}

    def tick(target: str, done: float) -> None:
        bar.n = min(bar.total, offsets[target] + done)
        bar.set_description(f"read: {target}")
        bar.refresh()
    measured = read.run(plan, tick)
    bar.close()
    return {"read": measured}


def _run_e2e(quick: bool) -> dict[str, Any]:
    from bench.scenarios import e2e, roundtrip

    plan = e2e.E2ePlan(seconds=6 if quick else 20)
    bar = _bar("e2e at 500/s", plan.seconds)

    def tick(done: float) -> None:
        bar.n = min(bar.total, done)
        bar.refresh()
    found: dict[str, Any] = {"e2e": e2e.run(plan, tick)}
    bar.close()
    faster = replace(plan, rate=1000, hot_users=10)  # issue 15's target rate; every hot user must fit the top 10
    bar = _bar("e2e at 1000/s", faster.seconds)
    found["e2e_1000"] = e2e.run(faster, tick)
    bar.close()
    from devstack.worlds import isolated_world

    bar = _bar("kafka_roundtrip at 500/s", plan.seconds)
    with isolated_world() as world:
        found["kafka_roundtrip"] = roundtrip.run(world.kafka_bootstrap, plan.rate, plan.seconds, tick)
    bar.close()
    return found


def _run_fanout(quick: bool) -> dict[str, Any]:
    from bench.scenarios import fanout

    plan = fanout.FanoutPlan(clients=(200, 1000) if quick else (1000, 5000, 10000), updates=5 if quick else 100)
    bar = _bar("fanout", plan.updates * len(plan.clients), unit="updates")

    def tick(label: str) -> None:
        bar.set_description(f"fanout: {label}")
        bar.update(1)
    found = fanout.run(plan, tick)
    bar.close()
    return {"fanout": found}


def _run_rebuild(events: int) -> dict[str, Any]:
    from bench.scenarios import rebuild

    return {"rebuild": rebuild.run(events, lambda note: print(f"rebuild: {note}", file=sys.stderr))}


def _run_abuse(quick: bool) -> dict[str, Any]:
    from bench.abuse import tally
    from bench.scenarios import abuse

    plan = abuse.AbusePlan(farm_requests=200) if quick else abuse.AbusePlan()
    found = abuse.run(plan, lambda note: print(f"abuse: {note}", file=sys.stderr))
    print(tally.summary_line(found))
    found["simulation"] = _run_simulation(quick)
    return {"abuse": found}


def _run_simulation(quick: bool) -> dict[str, Any]:
    """The cheat simulation (virtual time, no services): its result, or the error that stopped it."""
    from bench import simulation

    try:
        found = simulation.run(quick=quick, progress=lambda note: print(f"abuse: {note}", file=sys.stderr))
    except Exception as exc:  # noqa: BLE001 - the real-stack attacks' results are kept either way
        return {"error": f"{type(exc).__name__}: {exc}"}
    print(simulation.render(found))
    return found


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    chosen = tuple(args.only or SCENARIOS)
    _preflight(chosen, docs=not args.no_docs)
    found: dict[str, Any] = {}
    if set(chosen) != set(SCENARIOS) and results.LATEST.exists():
        found = results.read()
    started = time.monotonic()
    if "ingest" in chosen:
        found |= _run_ingest(args.quick, args.profile)
    if "read" in chosen:
        found |= _run_read(args.quick, args.profile)
    if "e2e" in chosen:
        found |= _run_e2e(args.quick)
    if "fanout" in chosen:
        found |= _run_fanout(args.quick)
    if "rebuild" in chosen:
        found |= _run_rebuild(50_000 if args.quick else args.rebuild_events)
    if "abuse" in chosen:
        found |= _run_abuse(args.quick)
    found["machine"] = machine.describe()
    found["ratios"] = results.ratios(found)
    found["targets"] = results.targets(found)
    found["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    found["run_seconds"] = round(time.monotonic() - started)
    found["quick"] = args.quick
    path = results.write(found)
    print(f"wrote {path}")
    if not args.no_docs:
        print(f"plotted {plot.draw(found)}")
        print(f"updated {report.update_doc(found)}")
    print(report.render(found, plot=None))
    missing = results.missing_keys(found)
    if missing:
        print(f"scoreboard bench: not measured: {', '.join(missing)}", file=sys.stderr)
    return 0
