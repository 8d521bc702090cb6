"""The OpenAPI 3.1 description of the api, served at ``GET /openapi.json``.

Written by hand next to the handlers it describes; ``tests/e2e/test_openapi_conformance.py`` runs
schemathesis against the running api to keep the two honest.
"""

from __future__ import annotations

from typing import Any

from producer_api.admin import MAX_DELTA
from producer_api.idempotency import KEY_FORMAT
from scoreboard.catalog import Catalog

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: Schema, required: list[str] | None = None, *, closed: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties,
                      "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    return schema


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
SCHEMAS: dict[str, Schema] = {
    "Problem": obj({
        "type": {"type": "string", "format": "uri"}, "title": STR, "status": INT, "detail": STR,
        "instance": STR, "errors": {"type": "array", "items": obj({"field": STR, "message": STR})},
    }, ["type", "title", "status", "detail"], closed=False),
    "Action": obj({"action_id": STR, "title": STR, "points": INT, "enabled": {"type": "boolean"},
                   "requires_ticket": {"type": "boolean"}, "cooldown_seconds": INT, "daily_cap": INT}),
    "ActionList": obj({"catalog_version": STR, "actions": {"type": "array", "items": ref("Action")}}),
    "Ticket": obj({"ticket": STR, "expires_at": {"type": "string", "format": "date-time"},
                   "not_before": {"type": "string", "format": "date-time"}}),
    "CompleteBody": obj({"ticket": {"type": "string", "minLength": 1, "maxLength": 1024}}, []),
    "Receipt": obj({"event_id": {"type": "string", "format": "uuid"},
                    "status": {"enum": ["accepted", "duplicate"]}, "action_id": STR, "points": INT}),
    "AdminReceipt": obj({"event_id": {"type": "string", "format": "uuid"},
                         "status": {"enum": ["accepted", "duplicate"]}}),
    "AdjustmentBody": obj({"delta": {"type": "integer", "minimum": -MAX_DELTA, "maximum": MAX_DELTA,
                                     "not": {"const": 0}},
                           "reason": {"type": "string", "minLength": 1, "maxLength": 500}}),
    "ReasonBody": obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500}}),
    "Entry": obj({"rank": INT, "user_id": STR, "score": INT}),
    "Board": obj({"board": STR, "version": INT, "entries": {"type": "array", "items": ref("Entry")}}),
    "UserRank": obj({"board": STR, "user_id": STR, "rank": INT, "score": INT}),
    "Health": obj({"status": STR}, closed=False),
    "Readiness": obj({"status": STR, "checks": {"type": "object", "additionalProperties": STR}}),
}
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


def openapi_document(catalog: Catalog) -> Schema:
    action = path_param("action_id") | {"schema": {"type": "string", "minLength": 1,
                                                   "examples": sorted(catalog.actions)}}
    board = path_param("board") | {"schema": {"type": "string", "minLength": 1,
                                              "examples": ["global", "daily", "weekly"]}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Live Scoreboard api", "version": "1",
                 "description": "Thin command api: JWT-authenticated actions appended to Kafka; "
                                "leaderboard reads from Redis. Every error is RFC 9457 problem+json."},
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
                [action, idempotency_header(True)], body("CompleteBody", False),
                ok(202, "Receipt") | ok(200, "Receipt") | problems(400, 401, 403, 404, 409, 413, 415, 422))},
            "/v1/leaderboards/{board}": {"get": {
                "summary": "Top of a board", "parameters": [board, query_int("limit", 1, 100, 10),
                                                            query_int("offset", 0, 10_000_000, 0)],
                "responses": ok(200, "Board") | problems(404, 422)}},
            "/v1/leaderboards/{board}/users/{user_id}": {"get": {
                "summary": "One user's rank on a board", "parameters": [board, path_param("user_id")],
                "responses": ok(200, "UserRank") | problems(404)}},
            "/v1/admin/users/{user_id}/adjustments": admin_command(
                "Adjust a user's score (admin)", "AdjustmentBody", True),
            "/v1/admin/users/{user_id}/ban": admin_command("Ban a user (admin)", "ReasonBody", False),
            "/v1/admin/users/{user_id}/unban": admin_command("Unban a user (admin)", "ReasonBody", False),
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
