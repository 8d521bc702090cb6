"""The OpenAPI 3.1 description of the api, served at ``GET /openapi.json``: its paths and operations;
the shapes they name are in ``producer_api.openapi_schemas``.

Written by hand next to the handlers it describes; ``tests/e2e/test_openapi_conformance.py`` runs
schemathesis against the running api to keep the two honest.
"""

from __future__ import annotations

from producer_api.idempotency import KEY_FORMAT
from producer_api.openapi_schemas import DATE_TIME, SCHEMAS, STR, Schema, ref
from producer_api.query_routes import MAX_OFFSET, MAX_RADIUS
from producer_api.schema_routes import IMMUTABLE, LIST_CACHE
from producer_api.visibility import MAX_WAIT_SECONDS
from scoreboard.domain.catalog import Catalog

_REASONS = {
    200: "duplicate: the same request was already accepted", 201: "created", 202: "accepted",
    400: "malformed JSON", 401: "missing or invalid bearer token", 403: "not allowed for this caller",
    404: "not found", 409: "conflicts with the current state (disabled action, ticket used, in progress)",
    413: "body too large", 415: "body is not application/json", 422: "invalid input",
    429: "rate limit, cooldown or daily cap", 503: "a dependency did not answer; retry",
}
_RETRY: Schema = {"schema": {"type": "integer", "minimum": 0}}
_LIMIT_HEADERS = {"Retry-After": _RETRY, "RateLimit-Limit": _RETRY, "RateLimit-Remaining": _RETRY,
                  "RateLimit-Reset": _RETRY}


def problems(*statuses: int) -> dict[str, Schema]:
    answers: dict[str, Schema] = {}
    for status in (*statuses, 429, 503):
        answer: Schema = {"description": _REASONS[status],
                          "content": {"application/problem+json": {"schema": ref("Problem")}}}
        if status == 429:
            answer["headers"] = {"Retry-After": _RETRY}
        answers[str(status)] = answer
    return answers


def ok(status: int, schema: str) -> dict[str, Schema]:
    return {str(status): {"description": _REASONS.get(status, "ok"),
                          "content": {"application/json": {"schema": ref(schema)}}}}


def path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def query_int(name: str, low: int, high: int, default: int) -> Schema:
    return {"name": name, "in": "query", "required": False,
            "schema": {"type": "integer", "minimum": low, "maximum": high, "default": default}}


def idempotency_header(required: bool) -> Schema:
    return {"name": "Idempotency-Key", "in": "header", "required": required,
            "schema": {"type": "string", "pattern": KEY_FORMAT.pattern}}


def body(schema: str, required: bool) -> Schema:
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


def command(summary: str, params: list[Schema], request: Schema | None, answers: dict[str, Schema]) -> Schema:
    operation: Schema = {"summary": summary, "security": [{"bearer": []}], "parameters": params,
                         "responses": answers}
    if request is not None:
        operation["requestBody"] = request
    return operation


def admin_command(summary: str, schema: str, key_required: bool) -> Schema:
    return {"post": command(summary, [path_param("user_id"), idempotency_header(key_required)],
                            body(schema, True), ok(202, "AdminReceipt") | ok(200, "AdminReceipt")
                            | problems(400, 401, 403, 409, 413, 415, 422))}


def example(answers: dict[str, Schema], value: object) -> dict[str, Schema]:
    for answer in answers.values():
        answer["content"]["application/json"]["examples"] = {"example": {"value": value}}
    return answers


def query_param(name: str, schema: Schema, description: str, *examples: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description,
            "examples": {value: {"value": value} for value in examples}}


AS_OF = query_param("as_of", DATE_TIME, "answer the board as it stood at this moment (RFC 3339, not in the "
                    "future), computed from the ledger; `daily`/`weekly` name the window of that moment",
                    "2026-11-27T18:30:00Z")
PREFER = {"name": "Prefer", "in": "header", "required": False,
          "schema": {"type": "string", "pattern": r"^wait=\d{1,3}$"},
          "description": f"`wait=N`: answer once the boards show the action, or after N seconds (at most "
                       f"{MAX_WAIT_SECONDS}); the answer then carries `Preference-Applied` and `visible`",
          "examples": {"wait": {"value": "wait=5"}}}
_APPLIED = {"Preference-Applied": {"description": "the honoured `wait` preference",
                                   "schema": {"type": "string", "pattern": r"^wait=\d+$"}}}
_ENTRIES = [{"rank": 1, "user_id": "carol", "score": 300}, {"rank": 2, "user_id": "bob", "score": 200}]
_BOB = {"board": "global", "user_id": "bob", "rank": 2, "score": 200, "percentile": 66.67, "total": 3}
_ANY_VERSION = 1_795_000_000_000_000


def receipt(status: int) -> dict[str, Schema]:
    answer = ok(status, "Receipt")
    answer[str(status)]["headers"] = _APPLIED
    return example(answer, {"event_id": "0b6f8a52-8a0e-5c1e-9d4a-3f1f3e0c2a11", "status": "accepted",
                            "action_id": "win-match", "points": 100, "visible": True})


def query_paths(board: Schema) -> dict[str, Schema]:
    user = path_param("user_id") | {"examples": {"bob": {"value": "bob"}}}
    return {
        "/v1/leaderboards/{board}": {"get": {
            "summary": "A page of a board (global, daily, weekly or a past window), with version and total",
            "parameters": [board, query_int("limit", 1, 100, 10), query_int("offset", 0, MAX_OFFSET, 0), AS_OF],
            "responses": example(ok(200, "Board"), {"board": "global", "version": _ANY_VERSION, "total": 3,
                                                    "source": "redis", "entries": _ENTRIES})
            | problems(404, 422)}},
        "/v1/leaderboards/{board}/users/{user_id}": {"get": {
            "summary": "One user's rank, score and percentile on a board (404 if not ranked)",
            "parameters": [board, user, AS_OF],
            "responses": example(ok(200, "UserRank"), _BOB) | problems(404, 422)}},
        "/v1/leaderboards/{board}/users/{user_id}/around": {"get": {
            "summary": "The entries `radius` ranks above and below a user",
            "parameters": [board, user, query_int("radius", 0, MAX_RADIUS, 5), AS_OF],
            "responses": example(ok(200, "Around"), {
                "board": "global", "version": _ANY_VERSION, "total": 3, "source": "redis", "user": _BOB,
                "entries": [*_ENTRIES, {"rank": 3, "user_id": "alice", "score": 100}]}) | problems(404, 422)}},
        "/v1/me": {"get": {
            "summary": "The caller's rank and score on the global board and today's and this week's, and the "
                       "caller's latest rejected events",
            "security": [{"bearer": []}], "parameters": [],
            "responses": example(ok(200, "Me"), {"user_id": "bob", "boards": {
                "global": _BOB, "daily": _BOB | {"board": "daily:2026-11-27"}, "weekly": None}, "rejected": [
                {"event_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "code": "cooldown",
                 "reason": "cooldown: 'win-match' was accepted 12.0s earlier; its cooldown is 300s",
                 "rejected_at": "2026-11-27T10:00:00Z"}]})
            | problems(401)}},
        "/v1/users/{user_id}/history": {"get": {
            "summary": "A user's ledger entries, newest first, in cursor pages (the user or an admin)",
            "security": [{"bearer": []}],
            "parameters": [user, query_int("limit", 1, 100, 20),
                           query_param("cursor", {"type": "string", "maxLength": 200},
                                       "`next_cursor` of the previous page (opaque)")],
            "responses": example(ok(200, "History"), {"user_id": "bob", "entries": [
                {"event_id": "0b6f8a52-8a0e-5c1e-9d4a-3f1f3e0c2a11", "action_id": "win-match", "points": 100,
                 "total_after": 200, "occurred_at": "2026-11-27T18:30:00.123456Z"}],
                "next_cursor": "aDE6WzE3OTUwMDAwMDAwMDAwMDAsIDQyXQ"}) | problems(401, 403, 422)}},
    }


def _cached(cache_control: str) -> dict[str, Schema]:
    return {"Cache-Control": {"schema": {"const": cache_control}},
            "ETag": {"schema": {"type": "string"}}}


def schema_paths() -> dict[str, Schema]:
    fingerprint = path_param("fingerprint") | {
        "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"},
        "description": "hex of the 8 fingerprint bytes as written after C3 01 in a record",
        "examples": {"ActionCompleted v1": {"value": "d1b4c22d5b303919"}}}
    not_modified = {"304": {"description": "not modified (`If-None-Match`)"}}
    list_answer = ok(200, "SchemaList")
    list_answer["200"]["headers"] = _cached(LIST_CACHE)
    return {
        "/v1/schemas": {"get": {
            "summary": "Every kept version of every event schema, with the fingerprint its records carry",
            "responses": list_answer | not_modified | problems()}},
        "/v1/schemas/{fingerprint}": {"get": {
            "summary": "The Avro schema (.avsc) whose records carry this fingerprint; never changes",
            "parameters": [fingerprint],
            "responses": {"200": {"description": "the .avsc file", "headers": _cached(IMMUTABLE),
                                  "content": {"application/json": {"schema": {"type": "object"}}}}}
            | not_modified | problems(404, 422)}},
    }


def moderation_paths() -> dict[str, Schema]:
    user = [path_param("user_id")]
    status = query_param("status", {"enum": ["pending", "decided", "all"], "default": "pending"},
                         "which reviews: pending (the queue), decided, or all", "pending")
    return {
        "/v1/admin/reviews": {"get": command(
            "The moderation queue, newest first, with the evidence (admin)", [status, query_int("limit", 1, 500, 50)],
            None, ok(200, "ReviewList") | {"304": {"description": "unchanged since the ETag given"}}
            | problems(401, 403, 422))},
        "/v1/admin/reviews/{user_id}/decision": {"post": command(
            "Approve (release the held points) or reject (void them) a pending review (admin)", user,
            body("DecisionBody", True), ok(202, "ModerationReceipt") | problems(400, 401, 403, 404, 413, 415, 422))},
        "/v1/admin/users/{user_id}/flag": {"post": command(
            "Put a user under review by hand (admin)", user, body("ReasonBody", True),
            ok(202, "ModerationReceipt") | problems(400, 401, 403, 409, 413, 415, 422))},
        "/v1/admin/purges": {"post": command(
            "Void every entry of one action in a time window, optionally of listed users only (admin)", [],
            body("PurgeBody", True), ok(202, "ModerationReceipt") | problems(400, 401, 403, 404, 413, 415, 422))},
    }


def openapi_document(catalog: Catalog) -> Schema:
    action = path_param("action_id") | {"schema": {"type": "string", "minLength": 1,
                                                   "examples": sorted(catalog.actions)}}
    board = path_param("board") | {"schema": {"type": "string", "minLength": 1,
                                              "examples": ["global", "daily", "weekly", "daily:2026-11-27",
                                                           "weekly:2026-W48"]}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Live Scoreboard api", "version": "1",
                 "description": "Thin command api: JWT-authenticated actions appended to Kafka; "
                                "leaderboard reads from Redis (Postgres while Redis is repaired, the ledger "
                                "for `as_of`). Every error is RFC 9457 problem+json."},
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "paths": {
            "/v1/actions": {"get": {"summary": "The public action catalog",
                                    "responses": ok(200, "ActionList") | problems()}},
            "/v1/actions/{action_id}/start": {"post": command(
                "Start a ticketed action: a signed single-use ticket", [action], None,
                ok(201, "Ticket") | problems(400, 401, 404, 409, 413, 415, 422))},
            "/v1/actions/{action_id}/complete": {"post": command(
                "Complete an action; points come from the server catalog",
                [action, idempotency_header(True), PREFER], body("CompleteBody", False),
                receipt(202) | receipt(200) | problems(400, 401, 403, 404, 409, 413, 415, 422))},
            **query_paths(board),
            "/v1/admin/users/{user_id}/adjustments": admin_command(
                "Adjust a user's score (admin)", "AdjustmentBody", True),
            "/v1/admin/users/{user_id}/ban": admin_command("Ban a user (admin)", "ReasonBody", False),
            "/v1/admin/users/{user_id}/unban": admin_command("Unban a user (admin)", "ReasonBody", False),
            **moderation_paths(),
            **schema_paths(),
            "/healthz": {"get": {"summary": "Liveness", "responses": ok(200, "Health")}},
            "/readyz": {"get": {"summary": "Readiness of Kafka, Postgres and Redis",
                                "responses": ok(200, "Readiness") | {"503": {
                                    "description": "not ready",
                                    "content": {"application/json": {"schema": ref("Readiness")}}}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
                "description": "text exposition format", "content": {"text/plain": {"schema": STR}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {
                "description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
    }
