"""The forgery attack: a well-formed ``ActionCompleted`` of huge points produced straight to the actions
topic, with CloudEvents headers and no signature. Is it counted, or set aside (and with what reason)?"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

from bench.abuse.plan import FARM_ACTION, AbusePlan
from bench.abuse.target import System, scan_topic
from devstack.worlds import topic_ends
from scoreboard.domain.topics import ACTIONS, REJECTED


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
