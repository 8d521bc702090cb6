"""The admin key reuse attack: a user completes an action with key K, an admin adjusts that user with
``Idempotency-Key: K``, then the user and neighbours on the same partition complete more actions: how many
are counted within the window, and how often the worker exited (restarted each time, as a supervisor would)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from bench.abuse.plan import FARM_ACTION, JSON_HEADERS, AbusePlan, complete_request
from bench.abuse.tally import (
    accepted_points,
    counted_actions,
    log_findings,
    partition_for,
    problem_type,
    status_counts,
    users_on_partition,
)
from bench.abuse.target import System, scan_topic
from devstack.worlds import topic_ends
from scoreboard.domain.topics import ACTIONS


async def _complete_in_turn(system: System, token: str, keys: Sequence[str]) -> list[tuple[int, bytes]]:
    answers, _ = await system.storm([complete_request(FARM_ACTION, token, key) for key in keys], 1)
    return answers


async def admin_key_reuse(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    ends = await asyncio.to_thread(topic_ends, system.world.kafka_bootstrap)
    partitions = len(ends)
    user = f"abuse-reuse-{run}"
    partition = partition_for(user, partitions)
    neighbours = users_on_partition(f"abuse-nb-{run}", partition, partitions, plan.reuse_neighbours)
    tokens = {u: system.token(u) for u in [user, *neighbours]}
    admin = system.token(f"abuse-admin-{run}", admin=True)
    exits_before = len(system.worker_exits)
    logs_before = len(system.worker_logs())
    key = f"reuse-{run}-k"

    first, _ = await system.storm([complete_request(FARM_ACTION, tokens[user], key)], 1)
    adjusted, _ = await system.storm([(f"/v1/admin/users/{user}/adjustments",
                                       {"Authorization": f"Bearer {admin}", "Idempotency-Key": key} | JSON_HEADERS,
                                       json.dumps({"delta": 10, "reason": "x"}).encode())], 1)
    caught_after_admin = await system.caught_up(plan.reuse_window_s)
    before = {u: (await system.standing(u)).get("score") or 0 for u in tokens}

    sent_at = time.monotonic()
    answers = await asyncio.gather(*(
        _complete_in_turn(system, t, [f"reuse-{run}-{u}-{i}" for i in range(plan.reuse_actions_per_user)])
        for u, t in tokens.items()))
    acked = {u: accepted_points(a) for u, a in zip(tokens, answers, strict=True)}
    counted: dict[str, int] = {}
    deadline = sent_at + plan.reuse_window_s
    while True:
        system.watch_worker()
        for u in tokens:
            counted[u] = counted_actions(before[u], (await system.standing(u)).get("score") or 0, acked[u])
        if all(counted[u] == len(acked[u]) for u in tokens) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    counted_s = time.monotonic() - sent_at
    system.watch_worker()

    def ours(message: Any) -> bool:
        return (message.key() or b"").decode(errors="replace") in tokens

    seen = await asyncio.to_thread(scan_topic, system.world.kafka_bootstrap, ACTIONS,
                                   {partition: ends[partition]}, ours, 10.0)
    keys_seen = {(m.key() or b"").decode(errors="replace") for m in seen}
    sent = sum(len(a) for a in answers)
    findings = log_findings(system.worker_logs()[logs_before:])
    return {
        "user": user, "partition": partition, "neighbours": neighbours,
        "same_partition_verified": keys_seen == set(tokens) if seen else None,
        "first_status": first[0][0], "admin_status": adjusted[0][0], "admin_problem": problem_type(adjusted[0][1]),
        "caught_up_after_admin": caught_after_admin,
        "sent": sent, "acknowledged": sum(len(v) for v in acked.values()),
        "statuses": status_counts(s for a in answers for s, _ in a),
        "counted": sum(counted.values()), "counted_by_user": counted, "score_before_by_user": before,
        "window_s": plan.reuse_window_s, "seconds_to_count": round(counted_s, 2),
        "worker_exits": len(system.worker_exits) - exits_before,
        "worker_exit_codes": system.worker_exits[exits_before:],
        "worker_alive": system.worker is not None and system.worker.popen.poll() is None,
        **{f"worker_{k}": v for k, v in findings.items()},
    }
