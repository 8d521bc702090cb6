"""HTTP handlers of the admin commands (JWT claim ``roles`` contains ``admin``); the use case is
``producer_api.admin_commands``. Each answers 202 ``{"event_id", "status": "accepted"}``.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from producer_api.admin_commands import MAX_DELTA, AdminReceipt
from producer_api.bodies import Field, read_json_body, validate
from producer_api.routes import command_principal, idempotency_key, services
from scoreboard.adapters.auth import Principal
from scoreboard.adapters.web.problems import Problem

USER_ID = re.compile(r"^[^\s\x00-\x1f\x7f/]{1,128}$")
ADJUST_BODY = {"delta": Field(int, low=-MAX_DELTA, high=MAX_DELTA), "reason": Field(str, low=1, high=500)}
REASON_BODY = {"reason": Field(str, low=1, high=500)}


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

