"""The abuse scenario's pure parts: counting answers, planning a mixed farm, choosing users on one
partition, reading a service's log for errors, and the one-line summary. Unit-tested in
``tests/unit/test_bench_abuse.py``; nothing here touches a service."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def status_counts(statuses: Iterable[int]) -> dict[str, int]:
    """``{"202": 512, "429": 488}``, sorted by status; 0 stands for a transport error (no answer)."""
    counted = Counter(statuses)
    return {str(status): counted[status] for status in sorted(counted)}


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def problem_type(body: bytes) -> str | None:
    """The ``type`` (or ``title``) of an RFC 9457 problem body, if the body is one."""
    found = parse_json(body)
    if isinstance(found, dict):
        value = found.get("type") or found.get("title")
        return str(value) if value is not None else None
    return None


def problem_counts(answers: Iterable[tuple[int, bytes]]) -> dict[str, int]:
    """``{"429 rate-limited": 94}``: refusals by status and problem type."""
    counted = Counter(f"{status} {problem_type(body) or '-'}"
                      for status, body in answers if status >= 400 or not status)
    return dict(sorted(counted.items()))


def accepted_points(answers: Iterable[tuple[int, bytes]]) -> list[int]:
    """Points of each new acceptance (2xx whose status is not ``duplicate``), in answer order."""
    points = []
    for status, body in answers:
        found = parse_json(body)
        if 200 <= status < 300 and isinstance(found, dict) and found.get("status") != "duplicate":
            value = found.get("points")
            points.append(int(value) if isinstance(value, int) else 0)
    return points


def positive_actions(catalog: Any) -> list[dict[str, Any]]:
    """The enabled actions worth points, from ``GET /v1/actions`` (unknown fields ignored)."""
    entries = catalog.get("actions", []) if isinstance(catalog, dict) else []
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("action_id"), str):
            continue
        points = entry.get("points")
        if entry.get("enabled", True) is False or not isinstance(points, int) or points <= 0:
            continue
        found.append({"action_id": entry["action_id"], "points": points,
                      "requires_ticket": bool(entry.get("requires_ticket", False))})
    return found


def mix_plan(actions: Sequence[Mapping[str, Any]], budget: int) -> dict[str, int]:
    """Completions per action when ``budget`` requests are shared equally by ``actions``; a ticketed
    action's share pays a start and a completion each. The remainder goes to the first actions."""
    if not actions or budget <= 0:
        return {}
    share, extra = divmod(budget, len(actions))
    plan = {}
    for i, action in enumerate(actions):
        requests = share + (1 if i < extra else 0)
        plan[str(action["action_id"])] = requests // 2 if action.get("requires_ticket") else requests
    return plan


def partition_for(key: str, partitions: int) -> int:
    """librdkafka's default partitioner (``consistent_random``): CRC-32 of the key, modulo the count."""
    return (zlib.crc32(key.encode()) & 0xFFFFFFFF) % partitions


def users_on_partition(prefix: str, partition: int, partitions: int, count: int) -> list[str]:
    """The first ``count`` names ``{prefix}-{i}`` that the api's producer puts on ``partition``."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        name = f"{prefix}-{i}"
        if partition_for(name, partitions) == partition:
            found.append(name)
        i += 1
    return found


def counted_actions(before: int, after: int, acked: Sequence[int]) -> int:
    """How many of the acknowledged actions (points each, in order) the score grew by."""
    left, counted = after - before, 0
    for points in acked:
        if points > left:
            break
        left -= points
        counted += 1
    return counted


def log_findings(text: str) -> dict[str, int]:
    """Errors in a service's log: error records, records with a traceback, crash exits logged.

    The worker writes each record twice, once as JSON and once through Faust's plain handler; when
    the log has JSON records only those are counted, otherwise the plain lines are."""
    json_counts = Counter[str]()
    plain_counts = Counter[str]()
    for line in text.splitlines():
        record = parse_json(line.encode()) if line.startswith("{") else None
        if isinstance(record, dict):
            json_counts["records"] += 1
            json_counts["error_lines"] += str(record.get("level", "")).lower() in ("error", "critical")
            json_counts["tracebacks"] += "Traceback" in str(record.get("exc", ""))
            json_counts["crash_exits_logged"] += "exiting before any commit" in str(record.get("msg", ""))
        else:
            plain_counts["error_lines"] += " ERROR " in line or "[ERROR]" in line or "CRITICAL" in line
            plain_counts["tracebacks"] += line.startswith("Traceback")
            plain_counts["crash_exits_logged"] += "exiting before any commit" in line
    chosen = json_counts if json_counts["records"] else plain_counts
    return {key: chosen[key] for key in ("error_lines", "tracebacks", "crash_exits_logged")}


def summarise_farm(answers: Sequence[tuple[int, bytes]], seconds: float, standing: Mapping[str, Any],
                   requests: int | None = None) -> dict[str, Any]:
    """One farming run: what was sent, what the api answered, and what the board shows after."""
    acked = accepted_points(answers)
    score = standing.get("score")
    return {
        "requests": len(answers) if requests is None else requests,
        "seconds": round(seconds, 3),
        "statuses": status_counts(s for s, _ in answers),
        "accepted": len(acked),
        "acknowledged_points": sum(acked),
        "score": score,
        "rank": standing.get("rank"),
        "points_per_second": round(score / seconds, 1) if isinstance(score, int) and seconds > 0 else None,
        "caught_up": standing.get("caught_up"),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_line(result: Mapping[str, Any]) -> str:
    """One line for the console: the number each attack is about."""
    parts = []
    farm = result.get("farming", {}).get("single") if isinstance(result.get("farming"), dict) else None
    if isinstance(farm, dict):
        parts.append(f"farming {_fmt(farm.get('requests'))} req in {farm.get('seconds')} s -> "
                     f"{_fmt(farm.get('accepted'))} accepted, score {_fmt(farm.get('score'))} "
                     f"(rank {_fmt(farm.get('rank'))})")
    mixed = result.get("farming", {}).get("mixed") if isinstance(result.get("farming"), dict) else None
    if isinstance(mixed, dict):
        parts.append(f"mixed score {_fmt(mixed.get('score'))}")
    for name, text in (("burst", "burst {limited}/{requests} got 429"),
                       ("tickets", "tickets {issued}/{requests} issued"),
                       ("forged", "forged counted={counted} (score {score})"),
                       ("admin_key_reuse", ("admin key reuse: admin {admin_status}, {counted}/{sent} counted "
                                            "in {window_s} s, worker exits {worker_exits}"))):
        found = result.get(name)
        if isinstance(found, dict):
            if "error" in found:
                parts.append(f"{name} failed: {found['error']}")
                continue
            parts.append(text.format_map(_Missing({k: _fmt(v) for k, v in found.items()})))
    return "abuse: " + "; ".join(parts)


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"
