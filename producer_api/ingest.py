"""Use case: a user completed an action. Decide the points, append the event, answer once Kafka acked."""

from __future__ import annotations

from dataclasses import dataclass

from producer_api.idempotency import IdempotencyStore, Remembered, event_id_for
from scoreboard import codec
from scoreboard.auth import Principal
from scoreboard.catalog import Catalog
from scoreboard.clock import Clock, to_datetime
from scoreboard.events import ActionCompleted
from scoreboard.publishing import Publisher
from scoreboard.topics import ACTIONS
from scoreboard.web.problems import Problem


@dataclass(frozen=True)
class Receipt:
    event_id: str
    action_id: str
    points: int
    duplicate: bool


def cloud_event_headers(event_id: str, event_type: str, occurred_at_us: int) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_type", f"scoreboard.{event_type}.v1".encode()),
        ("ce_source", b"/scoreboard/producer_api"),
        ("ce_time", to_datetime(occurred_at_us).isoformat().replace("+00:00", "Z").encode()),
        ("content-type", b"application/avro"),
    ]


class CompleteAction:
    def __init__(self, catalog: Catalog, publisher: Publisher, idempotency: IdempotencyStore,
                 clock: Clock) -> None:
        self._catalog = catalog
        self._publisher = publisher
        self._idempotency = idempotency
        self._clock = clock

    async def __call__(self, principal: Principal, action_id: str, nonce: str, request_id: str) -> Receipt:
        action = self._catalog.get(action_id)
        if action is None:
            raise Problem(404, "unknown-action", f"no action {action_id!r} in the catalog")
        if not action.enabled:
            raise Problem(409, "action-disabled", f"action {action_id!r} is disabled")
        record = Remembered(event_id_for(principal.user_id, nonce), action.action_id, action.points, False)
        known = await self._idempotency.claim(principal.user_id, nonce, record)
        if known is not None:
            if known.action_id != action.action_id:
                raise Problem(422, "idempotency-key-reused",
                              "this Idempotency-Key was already used for another action")
            if known.acknowledged:
                return Receipt(known.event_id, known.action_id, known.points, duplicate=True)
            record = known  # a retry of an unacknowledged attempt: producing again is safe
        event = ActionCompleted(
            event_id=record.event_id,
            user_id=principal.user_id,
            action_id=action.action_id,
            nonce=nonce,
            points=record.points,
            catalog_version=self._catalog.version,
            occurred_at_us=self._clock.now_us(),
            request_id=request_id,
        )
        await self._publisher.publish(
            ACTIONS, principal.user_id, codec.encode(event),
            cloud_event_headers(event.event_id, "ActionCompleted", event.occurred_at_us),
        )
        await self._idempotency.acknowledge(principal.user_id, nonce, record)
        return Receipt(record.event_id, record.action_id, record.points, duplicate=False)
