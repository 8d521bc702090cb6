"""The simulation's result as markdown (pasted into docs/anti-cheat.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _config(table: Any) -> str:
    if not table:
        return "their defaults"
    return f"`[detection]` = `{json.dumps(table, sort_keys=True)}`"


def _pct(value: float) -> str:
    return f"{100 * value:.3f}%"


def render(result: Mapping[str, Any]) -> str:
    model = result.get("model", {})
    lines = [
        f"Cheat simulation: {len(model.get('seeds', []))} seeds × {model.get('honest_users_per_seed', 0):,} honest "
        f"players, {model.get('days', 0):g} simulated days each (virtual time), catalog "
        f"`{model.get('catalog_version', '?')}`, detectors from `{model.get('detection', {}).get('source', '?')}` "
        f"with {_config(model.get('detection', {}).get('config'))}.",
        "",
        "| strategy | accounts | flagged | time to flag, median / max (s) | points before the flag (sum / per account) "
        "| never-flagged points | best public rank | ever in public top 10 |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in result.get("strategies", {}).items():
        ttf = row["time_to_flag_s"]
        points = row["points_before_flag"]
        label = f"{name}{' (fast)' if row.get('fast') else ''}"
        top = f"**yes** ({row['accounts_in_top10']} accounts)" if row["ever_in_top10"] else "no"
        lines.append(f"| {label} | {_num(row['accounts'])} | {_num(row['flagged'])} | {_num(ttf['median'])} / "
                     f"{_num(ttf['max'])} | {_num(points['sum'])} / {_num(points['per_account'])} | "
                     f"{_num(row['points_never_flagged'])} | {_num(row['best_rank'])} | {top} |")
    honest = result.get("honest", {})
    lines += ["", "| honest players | users | flagged | rate | 95% upper bound |", "|---|---:|---:|---:|---:|"]
    lines.append(f"| all | {_num(honest.get('users'))} | {_num(honest.get('flagged'))} | "
                 f"{_pct(honest.get('rate', 0.0))} | {_pct(honest.get('upper95', 0.0))} |")
    for name, row in honest.get("groups", {}).items():
        lines.append(f"| {name} | {_num(row['users'])} | {_num(row['flagged'])} | {_pct(row['rate'])} | "
                     f"{_pct(row['upper95'])} |")
    flags = result.get("flags", {})
    load = flags.get("reviews_per_hour", {})
    cost = result.get("detector_cost", {})
    events = result.get("events", {})
    precision = flags.get("precision")
    lines += [
        "",
        f"Flags: {_num(flags.get('reviews'))} users put under review, precision "
        f"{'–' if precision is None else f'{100 * precision:.1f}%'}; review queue {_num(load.get('mean'))} per "
        f"simulated hour on average, {_num(load.get('peak'))} in the busiest hour; honest users flagged in the "
        f"surge hour: {_num(honest.get('flagged_during_surge_hour'))}. "
        f"Simulated: {_num(events.get('requests'))} requests, {_num(events.get('records'))} log records; "
        f"detectors {_num(cost.get('mean_us_per_observe'))} µs per observed action "
        f"({_num(cost.get('observations'))} observations).",
        "",
        "| detector | bots flagged | honest flagged | flags on bots | flags on honest |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in flags.get("by_detector", {}).items():
        lines.append(f"| {name} | {_num(row.get('bots', 0))} | {_num(row.get('honest', 0))} | "
                     f"{_num(row.get('flags_on_bots', 0))} | {_num(row.get('flags_on_honest', 0))} |")
    targets = result.get("targets", {})
    lines += ["", "Targets: " + "; ".join(f"{name.replace('_', ' ')}: {'met' if ok else '**missed**'}"
                                        for name, ok in targets.items())]
    return "\n".join(lines) + "\n"
