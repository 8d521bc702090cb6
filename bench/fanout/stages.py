"""Each fanout update's latency split into stages, from the worker's ``batch`` and the gateway processes'
``push`` log lines (``scoreboard.runtime.logs``; ``gateway.stages``) and the clients' arrival and read
times; p50 and p99 of each stage over the updates. Pure but for reading the log files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.fanout.latency import Update
from bench.stats import percentile

STAGES = ("produced", "worker_done", "received_first", "received_last", "first_write", "last_write", "gc",
          "arrival", "read")
"""The stages of one update, each in ms from the worker's change (``gc``: ms of garbage collection in
the gateway processes between reading the change and the end of their write pass, summed)."""


def log_lines(path: Path, msg: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``path`` whose ``msg`` is ``msg`` (``scoreboard.runtime.logs``)."""
    found: list[dict[str, Any]] = []
    if not path.exists():
        return found
    marker = f'"msg": "{msg}"'
    for raw in path.read_text(errors="replace").splitlines():
        if marker not in raw:
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("msg") == msg:
            found.append(line)
    return found


def update_stages(updates: Sequence[Update], per_client_read: Sequence[Sequence[tuple[float, int]]],
                  per_client_arrival: Sequence[Sequence[tuple[float, int]]], batches: Sequence[dict[str, Any]],
                  passes: Sequence[dict[str, Any]], board: str = "global") -> list[dict[str, float]]:
    """Per update, the ``STAGES`` found for it: the worker's batch line (``produced``: its ledger and
    board stages, after which the change records go to Kafka; ``worker_done``: the batch's outputs
    acknowledged), the gateway processes' ``push`` lines of the version (``received_first``/``_last``:
    the first and the last process to read it from the feed; ``first_write``: the first socket written
    by any process; ``last_write``: the last socket written by every process), and the last client's
    kernel ``arrival`` and ``read``."""
    by_event: dict[str, dict[str, Any]] = {}
    for line in batches:
        for event_id in line.get("event_ids") or ():
            by_event[str(event_id)] = line
    by_version: dict[int, list[dict[str, Any]]] = {}
    for line in passes:
        if line.get("board") == board:
            by_version.setdefault(int(line.get("version", 0)), []).append(line)
    found: list[dict[str, float]] = []
    for u, update in enumerate(updates):
        seen = [client[u] for client in per_client_read if client[u][1] > 0]
        if not seen:
            found.append({})
            continue
        version = min(v for _, v in seen)
        change_s = version / 1e6
        stages: dict[str, float] = {"read": (max(at for at, _ in seen) - change_s) * 1000}
        arrived = [client[u][0] for client in per_client_arrival if client[u][1] > 0]
        if arrived:
            stages["arrival"] = (max(arrived) - change_s) * 1000
        stage_ms = by_event.get(update.event_id, {}).get("stage_ms")
        if isinstance(stage_ms, list) and len(stage_ms) == 3:
            stages["produced"] = float(stage_ms[0]) + float(stage_ms[1])
            stages["worker_done"] = float(sum(stage_ms))
        lines = by_version.get(version, [])
        received = {line.get("pid"): float(line["received_ms"]) for line in lines if "received_ms" in line}
        if received:
            stages["received_first"] = min(received.values())
            stages["received_last"] = max(received.values())
        if lines:
            stages["first_write"] = min(float(line["first_write_ms"]) for line in lines)
            stages["last_write"] = max(float(line["last_write_ms"]) for line in lines)
            stages["gc"] = sum(float(line.get("gc_ms", 0.0)) for line in lines)
        found.append({name: round(stages[name], 2) for name in STAGES if name in stages})
    return found


def stage_summary(stages: Sequence[dict[str, float]]) -> dict[str, Any]:
    """``updates`` (how many updates had every stage), p50 and p99 of each stage over the updates,
    and the stages of the update the last client read latest (the one that decides the p99)."""
    complete = [s for s in stages if all(name in s for name in STAGES)]
    summary: dict[str, Any] = {"updates": len(complete)}
    for q in (50, 99):
        summary[f"p{q}"] = {name: round(percentile([s[name] for s in stages if name in s], q), 2) for name in STAGES}
    timed = [s for s in stages if "read" in s]
    summary["worst_update"] = max(timed, key=lambda s: s["read"]) if timed else {}
    return summary
