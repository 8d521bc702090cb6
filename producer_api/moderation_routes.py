"""HTTP handlers of moderation (admin JWT): the review queue, decisions, flags by hand, purges. The
use cases are ``producer_api.moderation_commands``; the queue is read from ``projections.review_queue``."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from producer_api.admin_routes import USER_ID, admin_principal
from producer_api.bodies import Field, read_json_body, validate
from producer_api.moderation_commands import ModerationReceipt
from producer_api.query_routes import etag_matches, rfc3339
from producer_api.routes import command_principal, services
from projections.review_queue import STATUSES, ReviewView
from scoreboard.adapters.auth import Principal
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import REVIEW_DECISIONS

DECISION_BODY = {"decision": Field(str, low=1, high=16), "reason": Field(str, required=False, high=500)}
FLAG_BODY = {"reason": Field(str, low=1, high=500)}
MAX_PURGE_USERS = 1000


def review_json(view: ReviewView) -> dict[str, Any]:
    review = view.review
    decided = None if review.state == "pending" else {
        "decision": "approve" if review.state == "approved" else "reject", "by": review.decided_by,
        "reason": review.decided_reason, "decided_at": rfc3339(review.decided_at_us)}
    return {
        "user_id": review.user_id, "status": review.state, "detector": review.detector,
        "flagged_at": rfc3339(review.flagged_at_us), "hold_from": rfc3339(review.hold_from_us),
        "shadow": review.shadow, "flagged_by": review.flagged_by, "held_points": view.held_points,
        "held_actions": view.held_actions, "score": view.score, "evidence": view.evidence,
        "recent_actions": [{"event_id": a.event_id, "action_id": a.action_id, "points": a.points,
                            "occurred_at": rfc3339(a.occurred_at_us), "state": a.state} for a in view.recent],
        "decision": decided,
    }


async def moderator(request: Request) -> Principal:
    principal = await command_principal(request)
    if not principal.is_admin:
        raise Problem(403, "forbidden", "this endpoint needs the admin role")
    return principal


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Problem(422, "invalid-parameter", f"`{name}` must be an integer from {low} to {high}")
    return int(raw)


async def list_reviews(request: Request) -> Response:
    """The queue, newest first; ``ETag`` over the answer, so a page polling it gets 304s while it is quiet."""
    await moderator(request)
    status = request.query_params.get("status", "pending")
    if status not in STATUSES:
        raise Problem(422, "invalid-parameter", f"`status` must be one of {', '.join(STATUSES)}")
    views = await services(request).reviews.latest(status, int_param(request, "limit", 50, 1, 500))
    body = json.dumps({"reviews": [review_json(v) for v in views]}, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    if etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def accepted(receipt: ModerationReceipt, **extra: Any) -> Response:
    return JSONResponse({"event_id": receipt.event_id, "status": "accepted", **extra}, status_code=202)


async def decide_review(request: Request) -> Response:
    admin, user_id = await admin_principal(request)
    found = services(request)
    body = validate(await read_json_body(request, found.settings.max_body_bytes, required=True), DECISION_BODY)
    decision, reason = body["decision"], body.get("reason", "")
    if decision not in REVIEW_DECISIONS:
        raise Problem(422, "invalid-body", "`decision` must be approve or reject",
                      errors=[{"field": "decision", "message": "must be approve or reject"}])
    if decision == "reject" and not reason.strip():
        raise Problem(422, "invalid-body", "a rejection needs a `reason`",
                      errors=[{"field": "reason", "message": "is required to reject"}])
    receipt = await found.moderation.decide(admin, user_id, decision, reason)
    return accepted(receipt, user_id=user_id, decision=decision)


async def flag_user(request: Request) -> Response:
    admin, user_id = await admin_principal(request)
    found = services(request)
    body = validate(await read_json_body(request, found.settings.max_body_bytes, required=True), FLAG_BODY)
    return accepted(await found.moderation.flag(admin, user_id, body["reason"]), user_id=user_id)


def _moment(body: dict[str, Any], name: str) -> int:
    raw = body.get(name)
    try:
        moment = datetime.fromisoformat(str(raw).upper()) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Problem(422, "invalid-body", f"`{name}` must be an RFC 3339 time with an offset",
                      errors=[{"field": name, "message": "must be an RFC 3339 time with an offset"}])
    return to_micros(moment)


async def purge_action(request: Request) -> Response:
    """``{"action_id", "from", "until", "reason", "user_ids"?}``: void every entry of the action in [from, until)."""
    admin = await moderator(request)
    found = services(request)
    body = await read_json_body(request, found.settings.max_body_bytes, required=True)
    users = body.pop("user_ids", [])
    moments = {name: body.pop(name, None) for name in ("from", "until")}
    body = validate(body, {"action_id": Field(str, low=1, high=64), "reason": Field(str, low=1, high=500)})
    if (not isinstance(users, list) or len(users) > MAX_PURGE_USERS
            or not all(isinstance(u, str) and USER_ID.match(u) for u in users)):
        raise Problem(422, "invalid-body", f"`user_ids` must be a list of at most {MAX_PURGE_USERS} user ids",
                      errors=[{"field": "user_ids", "message": "must be a list of user ids"}])
    receipt = await found.moderation.purge(admin, body["action_id"], _moment(moments, "from"),
                                           _moment(moments, "until"), tuple(sorted(set(users))), body["reason"])
    return accepted(receipt, purge_id=receipt.event_id, partitions=receipt.partitions)
