"""Use case: admin commands (score adjustments, bans, unbans), each one event on the actions topic.

Each appends one event keyed by the target user, signed, after Kafka acknowledged it. Adjustments
need an Idempotency-Key, which is their ledger nonce; their event id comes from the admin namespace
(``admin/<key>``, and '/' is not allowed in a user's key), so it never equals a user's event id.
Bans and unbans take an optional key that makes their event id deterministic too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from producer_api.appender import ActionLog
from producer_api.idempotency import Claim, IdempotencyStore, Remembered, event_id_for
from scoreboard.adapters.auth import Principal
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain.clock import Clock
from scoreboard.domain.events import LogEvent, ScoreAdjusted, UserBanned, UserUnbanned

MAX_DELTA = 1_000_000_000


@dataclass(frozen=True)
class AdminReceipt:
    event_id: str
    duplicate: bool


class AdminCommands:
    def __init__(self, log: ActionLog, idempotency: IdempotencyStore, clock: Clock) -> None:
        self._log = log
        self._idempotency = idempotency
        self._clock = clock

    async def adjust(self, admin: Principal, user_id: str, delta: int, reason: str, key: str) -> AdminReceipt:
        if user_id == admin.user_id:
            raise Problem(403, "self-adjustment", "an admin cannot adjust their own score")
        # "admin/" + key is the adjustment's ledger nonce (scoring.ledger_nonce); no user's key has a '/',
        # so an admin event never gets the event id of the user's completion with the same key
        record = Remembered(event_id_for(user_id, "admin/" + key), "admin:adjust", delta, f"{delta}\x00{reason}")
        return await self._append(user_id, key, record, lambda at: ScoreAdjusted(
            event_id=record.event_id, user_id=user_id, delta=delta, reason=reason, admin_id=admin.user_id,
            nonce=key, occurred_at_us=at))

    async def ban(self, admin: Principal, user_id: str, reason: str, key: str | None) -> AdminReceipt:
        return await self._moderate("ban", admin, user_id, reason, key)

    async def unban(self, admin: Principal, user_id: str, reason: str, key: str | None) -> AdminReceipt:
        return await self._moderate("unban", admin, user_id, reason, key)

    async def _moderate(self, verb: str, admin: Principal, user_id: str, reason: str,
                        key: str | None) -> AdminReceipt:
        event_type = UserBanned if verb == "ban" else UserUnbanned
        event_id = event_id_for(user_id, f"admin/{verb}/{key}") if key else str(uuid.uuid4())
        record = Remembered(event_id, f"admin:{verb}", 0, reason)
        return await self._append(user_id, key, record, lambda at: event_type(
            event_id=event_id, user_id=user_id, reason=reason, admin_id=admin.user_id, occurred_at_us=at))

    async def _append(self, user_id: str, key: str | None, record: Remembered,
                      build: Callable[[int], LogEvent]) -> AdminReceipt:
        if key is not None:
            outcome, known = await self._idempotency.settle(user_id, key, record)
            if (known.action_id, known.points, known.fingerprint) != (record.action_id, record.points,
                                                                      record.fingerprint):
                raise Problem(422, "idempotency-key-reused",
                              "this Idempotency-Key was already used for another admin command")
            if outcome is Claim.DONE:
                return AdminReceipt(known.event_id, duplicate=True)
            if outcome is Claim.BUSY:
                raise Problem(409, "request-in-progress", "a request with this Idempotency-Key is in progress",
                              headers={"Retry-After": "1"})
        event = build(self._clock.now_us())
        try:
            await self._log.append(event)
        except BaseException:
            if key is not None:
                await self._idempotency.release(user_id, key, record)
            raise
        if key is not None:
            self._idempotency.acknowledge(user_id, key, record)
        return AdminReceipt(record.event_id, duplicate=False)
