"""The farming attack: one ordinary token spends the plan's request budget on ``win-match`` as fast as it
goes, then the same budget over every enabled positive action of the catalog (a ticketed action spends a
start and a completion); the score is read once the worker caught up."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from bench.abuse.plan import FARM_ACTION, AbusePlan, complete_request, start_request
from bench.abuse.tally import (
    accepted_points,
    mix_plan,
    parse_json,
    positive_actions,
    problem_counts,
    status_counts,
    summarise_farm,
)
from bench.abuse.target import System

NOT_BEFORE_MARGIN_S = 0.05
"""Wait this much past a ticket's ``not_before`` (milliseconds; before 2026-11-30 it was truncated to
whole seconds and the margin was 1.2 s)."""


async def farm_single(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-farm-{run}"
    token = system.token(user)
    requests = [complete_request(FARM_ACTION, token, f"farm-{run}-{i}") for i in range(plan.farm_requests)]
    answers, seconds = await system.storm(requests, plan.connections)
    standing = await system.settled_standing(user, plan.settle_timeout_s)
    return {"user": user, "action_id": FARM_ACTION, "connections": plan.connections,
            **summarise_farm(answers, seconds, standing)}


def _not_before(body: Any) -> float | None:
    if isinstance(body, dict) and isinstance(body.get("not_before"), str):
        try:
            return datetime.fromisoformat(body["not_before"]).timestamp()
        except ValueError:
            return None
    return None


async def farm_mixed(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    """The same request budget over every enabled positive action: tickets first (their minimum
    duration runs while the plain actions are sent), then the ticketed completions."""
    status, catalog = await system.get("/v1/actions")
    actions = positive_actions(catalog)
    shares = mix_plan(actions, plan.farm_requests)
    user = f"abuse-mix-{run}"
    token = system.token(user)
    started = time.monotonic()
    answers: list[tuple[int, bytes]] = []
    per_action: dict[str, dict[str, Any]] = {}
    ticketed = [a for a in actions if a["requires_ticket"]]
    starts: dict[str, list[tuple[int, bytes]]] = {}
    for action in ticketed:
        starts[action["action_id"]], _ = await system.storm(
            [start_request(action["action_id"], token)] * shares[action["action_id"]], plan.connections)
    for action in (a for a in actions if not a["requires_ticket"]):
        aid = action["action_id"]
        got, _ = await system.storm([complete_request(aid, token, f"mix-{run}-{aid}-{i}") for i in range(shares[aid])],
                                    plan.connections)
        answers += got
        per_action[aid] = {"completions": len(got), "statuses": status_counts(s for s, _ in got),
                           "problems": problem_counts(got), "acknowledged_points": sum(accepted_points(got))}
    for action in ticketed:
        aid = action["action_id"]
        issued = [parse_json(b) for s, b in starts[aid] if s == 201]
        tickets = [b["ticket"] for b in issued if isinstance(b, dict) and isinstance(b.get("ticket"), str)]
        ready_at = max((t for t in map(_not_before, issued) if t is not None), default=time.time())
        if (wait := ready_at - time.time() + NOT_BEFORE_MARGIN_S) > 0:
            await asyncio.sleep(min(wait, plan.ticket_wait_max_s))
        got, _ = await system.storm([complete_request(aid, token, f"mix-{run}-{aid}-{i}", ticket)
                                     for i, ticket in enumerate(tickets)], plan.connections)
        answers += got
        per_action[aid] = {"starts": len(starts[aid]), "start_statuses": status_counts(s for s, _ in starts[aid]),
                           "start_problems": problem_counts(starts[aid]), "completions": len(got),
                           "statuses": status_counts(s for s, _ in got), "problems": problem_counts(got),
                           "acknowledged_points": sum(accepted_points(got))}
    seconds = time.monotonic() - started
    standing = await system.settled_standing(user, plan.settle_timeout_s)
    requests = sum(len(v) for v in starts.values()) + len(answers)
    return {"user": user, "catalog_status": status, "actions": [a["action_id"] for a in actions],
            "per_action": per_action, **summarise_farm(answers, seconds, standing, requests=requests)}
