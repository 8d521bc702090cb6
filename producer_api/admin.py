"""Admin commands (JWT claim ``roles`` contains ``admin``): score adjustments, bans and unbans.

Each appends one event to the actions topic keyed by the target user, after Kafka acknowledged it,
and answers 202 ``{"event_id", "status": "accepted"}``. Adjustments need an Idempotency-Key, which
is their ledger nonce, so the event id is derived like an action's; bans and unbans take an optional
key that makes their event id deterministic too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from producer_api.appender import ActionLog
from producer_api.bodies import Field, read_json_body, validate
from producer_api.idempotency import Claim, IdempotencyStore, Remembered, event_id_for
from producer_api.routes import command_principal, idempotency_key, services
from scoreboard.auth import Principal
from scoreboard.clock import Clock
from scoreboard.events import LogEvent, ScoreAdjusted, UserBanned, UserUnbanned
from scoreboard.web.problems import Problem

MAX_DELTA = 1_000_000_000
USER_ID = re.compile(r"^[^\s\x00-\x1f\x7f/]{1,128}$")
ADJUST_BODY = {"delta": Field(int, low=-MAX_DELTA, high=MAX_DELTA), "reason": Field(str, low=1, high=500)}
REASON_BODY = {"reason": Field(str, low=1, high=500)}


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


async def admin_principal(request: Request) -> tuple[Principal, str]:
    principal = await command_principal(request)
    if not principal.is_admin:
        raise Problem(403, "forbidden", "this endpoint needs the admin role")
    user_id = request.path_params["user_id"]
    if not USER_ID.match(user_id):
        raise Problem(422, "invalid-parameter", "`user_id` must be 1 to 128 printable characters")
    return principal, user_id


def answer(receipt: AdminReceipt) -> Response:
    body = {"event_id": receipt.event_id, "status": "duplicate" if receipt.duplicate else "accepted"}
    return JSONResponse(body, status_code=200 if receipt.duplicate else 202)


async def adjust_score(request: Request) -> Response:
    admin, user_id = await admin_principal(request)
    key = idempotency_key(request)
    found = services(request)
    body = validate(await read_json_body(request, found.settings.max_body_bytes, required=True), ADJUST_BODY)
    if body["delta"] == 0:
        raise Problem(422, "invalid-body", "`delta` must not be 0", errors=[{"field": "delta",
                                                                            "message": "must not be 0"}])
    return answer(await found.admin.adjust(admin, user_id, body["delta"], body["reason"], key))


def optional_key(request: Request) -> str | None:
    return idempotency_key(request) if "idempotency-key" in request.headers else None


async def ban_user(request: Request) -> Response:
    admin, user_id = await admin_principal(request)
    key = optional_key(request)
    found = services(request)
    body = validate(await read_json_body(request, found.settings.max_body_bytes, required=True), REASON_BODY)
    return answer(await found.admin.ban(admin, user_id, body["reason"], key))


async def unban_user(request: Request) -> Response:
    admin, user_id = await admin_principal(request)
    key = optional_key(request)
    found = services(request)
    body = validate(await read_json_body(request, found.settings.max_body_bytes, required=True), REASON_BODY)
    return answer(await found.admin.unban(admin, user_id, body["reason"], key))

