"""What the api's limits let one user through: a burst of completions paced over about a second (how many
got 429), and concurrent starts of a ticketed action (how many tickets were issued)."""

from __future__ import annotations

from typing import Any

from bench.abuse.plan import FARM_ACTION, TICKET_ACTION, AbusePlan, complete_request, start_request
from bench.abuse.tally import accepted_points, problem_counts, status_counts
from bench.abuse.target import System


async def burst(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-burst-{run}"
    token = system.token(user)
    requests = [complete_request(FARM_ACTION, token, f"burst-{run}-{i}") for i in range(plan.burst_requests)]
    answers, seconds = await system.storm(requests, plan.connections, pace_s=plan.burst_seconds / plan.burst_requests)
    statuses = [s for s, _ in answers]
    return {"user": user, "requests": len(answers), "seconds": round(seconds, 3),
            "statuses": status_counts(statuses), "problems": problem_counts(answers), "limited": statuses.count(429),
            "accepted": len(accepted_points(answers))}


async def tickets(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-tickets-{run}"
    token = system.token(user)
    starts = [start_request(TICKET_ACTION, token)] * plan.ticket_starts
    answers, seconds = await system.storm(starts, plan.ticket_starts)
    return {"user": user, "action_id": TICKET_ACTION, "requests": len(answers), "seconds": round(seconds, 3),
            "statuses": status_counts(s for s, _ in answers), "issued": sum(1 for s, _ in answers if s == 201),
            "problems": problem_counts(answers)}
