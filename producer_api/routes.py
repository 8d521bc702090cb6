"""HTTP handlers of the api: decode the request, call a use case or a read model, encode the answer."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from producer_api.idempotency import KEY_FORMAT
from scoreboard import boards
from scoreboard.auth import AuthError, Principal
from scoreboard.web.problems import Problem

if TYPE_CHECKING:
    from producer_api.bootstrap import Services


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "a Bearer token is required",
                      headers={"WWW-Authenticate": 'Bearer realm="scoreboard"'})
    try:
        return services(request).verifier.verify(token.strip())
    except AuthError as exc:
        raise Problem(401, "unauthorized", str(exc),
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


async def complete_action(request: Request) -> Response:
    principal = authenticate(request)
    nonce = request.headers.get("idempotency-key", "")
    if not KEY_FORMAT.match(nonce):
        raise Problem(422, "invalid-idempotency-key",
                      "the Idempotency-Key header is required: 8 to 128 characters of [A-Za-z0-9._:-]")
    await read_json_body(request)
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    receipt = await services(request).complete(principal, request.path_params["action_id"], nonce, request_id)
    body = {
        "event_id": receipt.event_id,
        "status": "duplicate" if receipt.duplicate else "accepted",
        "action_id": receipt.action_id,
        "points": receipt.points,
    }
    return JSONResponse(body, status_code=200 if receipt.duplicate else 202)


async def read_json_body(request: Request) -> dict[str, object]:
    """An optional JSON object body, size-capped; anything else is a clear 4xx."""
    limit = services(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "payload-too-large", f"the body must be at most {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Problem(413, "payload-too-large", f"the body must be at most {limit} bytes")
    if not raw.strip():
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Problem(415, "unsupported-media-type", "the body must be application/json")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Problem(400, "malformed-json", "the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise Problem(422, "invalid-body", "the body must be a JSON object")
    return body


async def list_actions(request: Request) -> Response:
    catalog = services(request).catalog
    return JSONResponse({
        "catalog_version": catalog.version,
        "actions": [action.public() for action in catalog.actions.values()],
    })


def board_param(request: Request) -> str:
    try:
        return boards.resolve(request.path_params["board"], services(request).clock.now_us())
    except boards.UnknownBoard as exc:
        raise Problem(404, "unknown-board", f"no board {request.path_params['board']!r}") from exc


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise Problem(422, "invalid-parameter", f"`{name}` must be an integer") from exc
    if not low <= value <= high:
        raise Problem(422, "invalid-parameter", f"`{name}` must be between {low} and {high}")
    return value


async def get_leaderboard(request: Request) -> Response:
    board = board_param(request)
    limit = int_param(request, "limit", 10, 1, 100)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    version, entries = await services(request).boards.top(board, limit, offset)
    return JSONResponse({
        "board": board,
        "version": version,
        "entries": [{"rank": e.rank, "user_id": e.user_id, "score": e.score} for e in entries],
    })


async def get_user_rank(request: Request) -> Response:
    board = board_param(request)
    user_id = request.path_params["user_id"]
    entry = await services(request).boards.rank_of(board, user_id)
    if entry is None:
        raise Problem(404, "user-not-ranked", f"user {user_id!r} has no score on {board}")
    return JSONResponse({"board": board, "user_id": entry.user_id, "rank": entry.rank, "score": entry.score})
