"""The results document: stable keys, ratios, and the targets (issue 15's, the latest) judged on one run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

LATEST = Path(__file__).resolve().parent / "results" / "latest.json"
LOAD_KEYS = ("rps", "p50_ms", "p99_ms", "p999_ms", "errors")
LATENCY_KEYS = ("rate", "p50_ms", "p99_ms", "p999_ms")
FANOUT_KEYS = ("clients", "p50_ms", "p99_ms")
REBUILD_KEYS = ("events", "events_per_s")
TOP_KEYS = ("ingest", "baseline_bare", "baseline_seed", "e2e", "kafka_roundtrip", "fanout", "rebuild",
            "machine", "ratios")


def ratio(numerator: float, denominator: float) -> float:
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return round(numerator / denominator, 3)


def ratios(results: dict[str, Any]) -> dict[str, float]:
    ingest = results.get("ingest", {}).get("rps", math.nan)
    found = {
        "ingest_over_bare": ratio(ingest, results.get("baseline_bare", {}).get("rps", math.nan)),
        "ingest_over_seed": ratio(ingest, results.get("baseline_seed", {}).get("rps", math.nan)),
    }
    floor = results.get("baseline_floor")
    if floor:  # the required I/O alone (bench/baselines/floor.py), in the same run
        bare = results.get("baseline_bare", {}).get("rps", math.nan)
        found["floor_over_bare"] = ratio(floor.get("rps", math.nan), bare)
        found["ingest_over_floor"] = ratio(ingest, floor.get("rps", math.nan))
    read = results.get("read")
    if read:  # the read scenario measures its own baseline_bare, in the same run as its reads
        read_bare = read.get("baseline_bare", {}).get("rps", math.nan)
        found["read_over_bare"] = ratio(read.get("memory", {}).get("rps", math.nan), read_bare)
        found["read_redis_over_bare"] = ratio(read.get("redis", {}).get("rps", math.nan), read_bare)
    return found


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with the measured value and whether it is met (None: not measured)."""
    found = results.get("ratios", {})
    errors = results.get("ingest", {}).get("errors")
    fanout_5000: dict[str, Any] = next((f for f in results.get("fanout", []) if f.get("clients") == 5000), {})
    fanout_10000: dict[str, Any] = next((f for f in results.get("fanout", []) if f.get("clients") == 10000), {})

    def judged(name: str, value: float | None, limit: float, higher_is_better: bool, unit: str) -> dict[str, Any]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return {"target": name, "value": None, "met": None}
        met = value >= limit if higher_is_better else value <= limit
        return {"target": name, "value": f"{value:g}{unit}", "met": met}

    read = [judged("read (top 10) >= 0.6 x baseline_bare", found.get("read_over_bare"), 0.6, True, " x")
            ] if "read" in results else []
    return [
        judged("ingest >= 0.35 x baseline_bare", found.get("ingest_over_bare"), 0.35, True, " x"),
        judged("ingest errors == 0", None if errors is None else float(errors), 0, False, ""),
        *read,
        judged("e2e p99 <= 100 ms at 1,000/s", results.get("e2e_1000", {}).get("p99_ms"), 100, False, " ms"),
        judged("fan-out p99 <= 150 ms at 5,000 clients", fanout_5000.get("p99_ms"), 150, False, " ms"),
        judged("fan-out p99 <= 500 ms at 10,000 clients", fanout_10000.get("p99_ms"), 500, False, " ms"),
        judged("fan-out missed frames == 0", None if not results.get("fanout") else float(sum(
            f.get("missed_frames", 0) for f in results["fanout"])), 0, False, ""),
        judged("rebuild >= 50,000 events/s", results.get("rebuild", {}).get("events_per_s"), 50000, True, "/s"),
    ]


def missing_keys(results: dict[str, Any]) -> list[str]:
    """Paths of the contract's keys absent from ``results`` (empty when the shape is complete)."""
    missing = [key for key in TOP_KEYS if key not in results]
    for section in ("ingest", "baseline_bare", "baseline_seed"):
        missing += [f"{section}.{k}" for k in LOAD_KEYS if k not in results.get(section, {})]
    for section in ("e2e", "kafka_roundtrip"):
        missing += [f"{section}.{k}" for k in LATENCY_KEYS if k not in results.get(section, {})]
    fanout = results.get("fanout", [])
    if not isinstance(fanout, list):
        missing.append("fanout[]")
    else:
        missing += [f"fanout[{i}].{k}" for i, row in enumerate(fanout) for k in FANOUT_KEYS if k not in row]
    missing += [f"rebuild.{k}" for k in REBUILD_KEYS if k not in results.get("rebuild", {})]
    return missing


def _clean(value: Any) -> Any:
    """NaN is not JSON: a value that was not measured is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write(results: dict[str, Any], path: Path = LATEST) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(results), indent=2, sort_keys=False) + "\n")
    return path


def read(path: Path = LATEST) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded
