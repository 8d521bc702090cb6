"""abuse: what an attacker achieves against the shipped defaults (issue 12).

The api, one worker and the gateway run on an isolated world exactly as shipped: the catalog of
``scoreboard/catalogs/actions.toml`` and the default rate limits (every ``SCOREBOARD_RATE_*`` override and
``SCOREBOARD_ACTIONS_FILE`` is blanked for the services, so the defaults apply). Five attacks, each
by fresh users, each reporting numbers rather than a verdict:

- **farming**: one ordinary token, 1,000 completions of ``win-match`` with fresh Idempotency-Keys
  over 32 keep-alive connections as fast as they go; then the same budget mixed over every enabled
  positive action of ``GET /v1/actions`` (a ticketed action spends a start and a completion). The
  score is read once the worker caught up (its committed offsets reached the topic's end as it was
  after the attack) and two reads agree.
- **burst**: 400 completions by one fresh user paced over about one second: how many got 429.
- **tickets**: 50 concurrent ``POST /v1/actions/boss-fight/start`` by one user: how many 201.
- **forged**: a well-formed Avro ``ActionCompleted`` of 10^12 points produced straight to the
  actions topic, with CloudEvents headers and no signature: is it counted, or set aside (the first
  matching ``scoreboard.rejected.v1`` record gives the reason)?
- **admin_key_reuse**: a user completes an action with key K; an admin adjusts that user with
  ``Idempotency-Key: K``; then the user and 5 others on the same partition complete more actions:
  how many are counted within 30 s, and how often the worker exited (it is restarted each time, as
  a process supervisor would).

Every user of the stack shares the actions topic, so other sessions' workers see these events too,
as they see every other scenario's. The pure parts (plans, counting, summaries) are in ``bench/abuse/tally.py``
(unit-tested), the system under attack in ``bench/abuse/target.py``; nothing here asserts a number.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.abuse.tally import (
    accepted_points,
    counted_actions,
    log_findings,
    mix_plan,
    parse_json,
    partition_for,
    positive_actions,
    problem_counts,
    problem_type,
    status_counts,
    summarise_farm,
    users_on_partition,
)
from bench.abuse.target import System, default_env, scan_topic
from bench.system import start_pipeline
from devstack.worlds import isolated_world, topic_ends
from scoreboard.domain.topics import ACTIONS, REJECTED

FARM_ACTION = "win-match"
TICKET_ACTION = "boss-fight"
JSON_HEADERS = {"Content-Type": "application/json"}
NOT_BEFORE_MARGIN_S = 0.05
"""Wait this much past a ticket's ``not_before`` (milliseconds; before 2026-11-30 it was truncated to
whole seconds and the margin was 1.2 s)."""


@dataclass(frozen=True)
class AbusePlan:
    farm_requests: int = 1000
    connections: int = 32
    burst_requests: int = 400
    burst_seconds: float = 1.0
    ticket_starts: int = 50
    forged_points: int = 10**12
    reuse_neighbours: int = 5
    reuse_actions_per_user: int = 3
    reuse_window_s: float = 30.0
    settle_timeout_s: float = 60.0
    ticket_wait_max_s: float = 65.0
    """The mixed farm waits for its tickets' minimum duration up to this long (the seconds include it)."""


# ---------------------------------------------------------------- the attacks


def _complete(action_id: str, token: str, key: str, ticket: str | None = None) -> tuple[str, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    body = b""
    if ticket is not None:
        headers |= JSON_HEADERS
        body = json.dumps({"ticket": ticket}).encode()
    return f"/v1/actions/{action_id}/complete", headers, body


def _start(action_id: str, token: str) -> tuple[str, dict[str, str], bytes]:
    return f"/v1/actions/{action_id}/start", {"Authorization": f"Bearer {token}"} | JSON_HEADERS, b"{}"


async def farm_single(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-farm-{run}"
    token = system.token(user)
    requests = [_complete(FARM_ACTION, token, f"farm-{run}-{i}") for i in range(plan.farm_requests)]
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
            [_start(action["action_id"], token)] * shares[action["action_id"]], plan.connections)
    for action in (a for a in actions if not a["requires_ticket"]):
        aid = action["action_id"]
        got, _ = await system.storm([_complete(aid, token, f"mix-{run}-{aid}-{i}") for i in range(shares[aid])],
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
        got, _ = await system.storm([_complete(aid, token, f"mix-{run}-{aid}-{i}", ticket)
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


async def burst(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-burst-{run}"
    token = system.token(user)
    requests = [_complete(FARM_ACTION, token, f"burst-{run}-{i}") for i in range(plan.burst_requests)]
    answers, seconds = await system.storm(requests, plan.connections, pace_s=plan.burst_seconds / plan.burst_requests)
    statuses = [s for s, _ in answers]
    return {"user": user, "requests": len(answers), "seconds": round(seconds, 3),
            "statuses": status_counts(statuses), "problems": problem_counts(answers), "limited": statuses.count(429),
            "accepted": len(accepted_points(answers))}


async def tickets(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    user = f"abuse-tickets-{run}"
    token = system.token(user)
    answers, seconds = await system.storm([_start(TICKET_ACTION, token)] * plan.ticket_starts, plan.ticket_starts)
    return {"user": user, "action_id": TICKET_ACTION, "requests": len(answers), "seconds": round(seconds, 3),
            "statuses": status_counts(s for s, _ in answers), "issued": sum(1 for s, _ in answers if s == 201),
            "problems": problem_counts(answers)}


def forged_event(user: str, points: int, run: str) -> Any:
    """An ``ActionCompleted`` as the api would write it, built by field name (a new field gets an empty
    value of its type, so the scenario still runs when the event grows)."""
    from scoreboard.domain.events import ActionCompleted

    known: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "user_id": user, "action_id": FARM_ACTION, "nonce": f"forged-{run}",
        "points": points, "catalog_version": "forged", "occurred_at_us": time.time_ns() // 1000,
        "request_id": f"forged-{run}",
    }
    values = {}
    for f in dataclasses.fields(ActionCompleted):
        if f.name in known:
            values[f.name] = known[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = 0 if "int" in str(f.type) else ""
    return ActionCompleted(**values)


def _produce(bootstrap: str, user: str, value: bytes,
             headers: list[tuple[str, str | bytes | None]]) -> tuple[int, int]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "client.id": "bench-abuse-forger"})
    where: list[tuple[int, int]] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is None:
            where.append((msg.partition(), msg.offset()))

    producer.produce(ACTIONS, key=user.encode(), value=value, headers=headers, on_delivery=delivered)
    if producer.flush(30) or not where:
        raise RuntimeError("the forged record was not acknowledged by Kafka")
    return where[0]


async def forged(system: System, plan: AbusePlan, run: str) -> dict[str, Any]:
    from scoreboard.adapters import codec

    user = f"abuse-forged-{run}"
    event = forged_event(user, plan.forged_points, run)
    headers: list[tuple[str, str | bytes | None]] = []
    try:
        from scoreboard.adapters.cloudevents import cloud_event_headers

        headers = [*cloud_event_headers(event.event_id, "ActionCompleted", "/scoreboard/producer_api",
                                        event.occurred_at_us)]
    except (ImportError, TypeError):
        pass
    bootstrap = system.world.kafka_bootstrap
    rejected_start = await asyncio.to_thread(topic_ends, bootstrap, REJECTED)
    partition, offset = await asyncio.to_thread(_produce, bootstrap, user, codec.encode(event), headers)
    standing = await system.settled_standing(user, plan.settle_timeout_s)

    def ours(message: Any) -> bool:
        return (message.key() or b"") == user.encode()

    reason = None
    for message in await asyncio.to_thread(scan_topic, bootstrap, REJECTED, rejected_start, ours, 10.0):
        try:
            decoded = codec.decode(message.value())
        except Exception:  # noqa: BLE001 - a rejection this codec cannot read: say so, keep going
            reason = reason or "undecodable rejection record"
            continue
        if getattr(decoded, "event_id", None) == event.event_id:
            reason = str(getattr(decoded, "reason", ""))
            break
    score = standing.get("score")
    return {"user": user, "points": plan.forged_points, "signature_headers": False,
            "headers": [name for name, _ in headers], "partition": partition, "offset": offset,
            "score": score, "rank": standing.get("rank"), "caught_up": standing.get("caught_up"),
            "counted": isinstance(score, int) and score >= plan.forged_points, "rejected_reason": reason}


async def _complete_in_turn(system: System, token: str, keys: Sequence[str]) -> list[tuple[int, bytes]]:
    answers, _ = await system.storm([_complete(FARM_ACTION, token, key) for key in keys], 1)
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

    first, _ = await system.storm([_complete(FARM_ACTION, tokens[user], key)], 1)
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


ATTACKS: tuple[tuple[str, Callable[[System, AbusePlan, str], Awaitable[dict[str, Any]]]], ...] = (
    ("burst", burst),
    ("tickets", tickets),
    ("forged", forged),
    ("admin_key_reuse", admin_key_reuse),
)


async def _attack(plan: AbusePlan, tick: Callable[[str], None]) -> dict[str, Any]:
    with isolated_world() as world:
        env, blanked = default_env(world)
        tick("starting api, worker and gateway with the shipped catalog and default limits")
        with start_pipeline(world, env) as services:
            system = System(world, services)
            run = uuid.uuid4().hex[:6]
            found: dict[str, Any] = {"run": run, "overrides_blanked": blanked, "plan": dataclasses.asdict(plan)}
            farming: dict[str, Any] = {}
            for name, farm in (("single", farm_single), ("mixed", farm_mixed)):
                tick(f"farming ({name})")
                try:
                    farming[name] = await farm(system, plan, run)
                except Exception as exc:  # noqa: BLE001 - one failed attack must not hide the others
                    farming[name] = {"error": f"{type(exc).__name__}: {exc}"}
            found["farming"] = farming
            for name, attack in ATTACKS:
                tick(name)
                try:
                    found[name] = await attack(system, plan, run)
                except Exception as exc:  # noqa: BLE001
                    found[name] = {"error": f"{type(exc).__name__}: {exc}"}
            system.watch_worker()
            found["worker_exits_total"] = len(system.worker_exits)
            return found


def run(plan: AbusePlan, tick: Callable[[str], None]) -> dict[str, Any]:
    return asyncio.run(_attack(plan, tick))
