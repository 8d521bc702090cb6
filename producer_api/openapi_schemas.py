"""The shapes of the api's bodies and answers: the ``components/schemas`` of its OpenAPI description
(``producer_api.openapi``), with the two builders every shape and operation uses (``ref``, ``obj``)."""

from __future__ import annotations

from typing import Any

from producer_api.admin_commands import MAX_DELTA

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
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
SOURCE: Schema = {"enum": ["redis", "postgres", "ledger"],
                  "description": "which projection answered: redis (live), postgres (live, while Redis is "
                                 "repaired) or ledger (as_of)"}
SCHEMAS: dict[str, Schema] = {
    "Problem": obj({
        "type": {"type": "string", "format": "uri"}, "title": STR, "status": INT, "detail": STR,
        "instance": STR, "errors": {"type": "array", "items": obj({"field": STR, "message": STR})},
    }, ["type", "title", "status", "detail"], closed=False),
    "Action": obj({"action_id": STR, "title": STR, "points": INT, "enabled": {"type": "boolean"},
                   "requires_ticket": {"type": "boolean"}, "cooldown_seconds": INT, "daily_cap": INT}),
    "Limits": obj({"max_points_per_hour": INT, "max_points_per_day": INT, "max_open_tickets": INT}),
    "ActionList": obj({"catalog_version": STR, "limits": ref("Limits"),
                       "actions": {"type": "array", "items": ref("Action")}}),
    "Ticket": obj({"ticket": STR, "expires_at": {"type": "string", "format": "date-time"},
                   "not_before": {"type": "string", "format": "date-time"}}),
    "CompleteBody": obj({"ticket": {"type": "string", "minLength": 1, "maxLength": 1024}}, []),
    "Receipt": obj({"event_id": {"type": "string", "format": "uuid"},
                    "status": {"enum": ["accepted", "duplicate"]}, "action_id": STR, "points": INT,
                    "visible": {"type": "boolean", "description": "only with `Prefer: wait=N`: whether the "
                                "boards showed the action before the wait ended"},
                    "outcome": {"enum": ["visible", "rejected", "held", "voided", "pending"],
                                "description": "only with `Prefer: wait=N`: shown on the boards, rejected by the "
                                "worker's policy check, held while the user is under review, voided by a "
                                "moderator, or not decided before the wait ended"},
                    "rejection": ref("Rejection")},
                   ["event_id", "status", "action_id", "points"]),
    "AdminReceipt": obj({"event_id": {"type": "string", "format": "uuid"},
                         "status": {"enum": ["accepted", "duplicate"]}}),
    "AdjustmentBody": obj({"delta": {"type": "integer", "minimum": -MAX_DELTA, "maximum": MAX_DELTA,
                                     "not": {"const": 0}},
                           "reason": {"type": "string", "minLength": 1, "maxLength": 500}}),
    "ReasonBody": obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500}}),
    "Entry": obj({"rank": {"type": "integer", "minimum": 1}, "user_id": STR, "score": INT}),
    "Board": obj({"board": STR, "version": INT, "total": {"type": "integer", "minimum": 0},
                  "source": SOURCE, "as_of": DATE_TIME, "entries": {"type": "array", "items": ref("Entry")}},
                 ["board", "version", "total", "source", "entries"]),
    "UserRank": obj({"board": STR, "user_id": STR, "rank": {"type": "integer", "minimum": 1}, "score": INT,
                     "percentile": {"type": "number", "minimum": 0, "maximum": 100},
                     "total": {"type": "integer", "minimum": 1}, "as_of": DATE_TIME},
                    ["board", "user_id", "rank", "score", "percentile", "total"]),
    "Around": obj({"board": STR, "version": INT, "total": {"type": "integer", "minimum": 1}, "source": SOURCE,
                   "as_of": DATE_TIME, "user": ref("UserRank"),
                   "entries": {"type": "array", "items": ref("Entry")}},
                  ["board", "version", "total", "source", "user", "entries"]),
    "Rejection": obj({"code": {"type": "string", "description": "stable: cap, cooldown, budget, banned, "
                               "points-mismatch, time-skew, catalog-version, unknown-action, ..."},
                      "reason": STR}),
    "RejectedEvent": obj({"event_id": STR, "code": STR, "reason": STR, "rejected_at": DATE_TIME}),
    "Me": obj({"user_id": STR, "boards": obj({alias: {"anyOf": [ref("UserRank"), {"type": "null"}]}
                                              for alias in ("global", "daily", "weekly")}),
               "rejected": {"type": "array", "items": ref("RejectedEvent"),
                            "description": "the user's latest events the worker refused, newest first"},
               "held_points": {"type": "integer", "description": "points held while the user is under review"},
               "review": {"anyOf": [obj({"status": {"const": "pending"}, "since": DATE_TIME, "score": INT}),
                                    {"type": "null"}]}}),
    "RecentAction": obj({"event_id": STR, "action_id": STR, "points": INT, "occurred_at": DATE_TIME,
                         "state": {"enum": ["counted", "held", "voided"]}}),
    "Review": obj({"user_id": STR, "status": {"enum": ["pending", "approved", "rejected"]}, "detector": STR,
                   "flagged_at": DATE_TIME, "hold_from": DATE_TIME, "shadow": {"type": "boolean"},
                   "flagged_by": STR, "held_points": INT, "held_actions": INT, "score": INT,
                   "evidence": {"type": "object", "description": "the detector's figures; always `summary`"},
                   "recent_actions": {"type": "array", "items": ref("RecentAction")},
                   "decision": {"anyOf": [obj({"decision": {"enum": ["approve", "reject"]}, "by": STR,
                                               "reason": STR, "decided_at": DATE_TIME}), {"type": "null"}]}}),
    "ReviewList": obj({"reviews": {"type": "array", "items": ref("Review")}}),
    "DecisionBody": obj({"decision": {"enum": ["approve", "reject"]},
                         "reason": {"type": "string", "maxLength": 500,
                                    "description": "required to reject"}}, ["decision"]),
    "ModerationReceipt": obj({"event_id": STR, "status": {"const": "accepted"}, "user_id": STR,
                              "decision": STR, "purge_id": STR, "partitions": INT}, ["event_id", "status"]),
    "PurgeBody": obj({"action_id": {"type": "string", "minLength": 1, "maxLength": 64},
                      "from": DATE_TIME, "until": DATE_TIME,
                      "user_ids": {"type": "array", "maxItems": 1000, "items": STR},
                      "reason": {"type": "string", "minLength": 1, "maxLength": 500}},
                     ["action_id", "from", "until", "reason"]),
    "HistoryEntry": obj({"event_id": STR, "action_id": STR, "points": INT, "total_after": INT,
                         "occurred_at": DATE_TIME}),
    "History": obj({"user_id": STR, "entries": {"type": "array", "items": ref("HistoryEntry")},
                    "next_cursor": {"type": ["string", "null"]}}),
    "SchemaRef": obj({"name": {"type": "string", "description": "the Avro record name, e.g. ActionCompleted"},
                      "version": {"type": "integer", "minimum": 1},
                      "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{16}$",
                                      "description": "hex of the 8 bytes after C3 01 in a record's value "
                                                     "(CRC-64-AVRO, little-endian)"}}),
    "SchemaList": obj({"schemas": {"type": "array", "items": ref("SchemaRef")}}),
    "Health": obj({"status": STR}, closed=False),
    "Readiness": obj({"status": STR, "checks": {"type": "object", "additionalProperties": STR}}),
}
