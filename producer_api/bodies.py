"""Request hygiene: size-capped, JSON-only bodies checked against strict schemas (unknown fields are
refused, never ignored), each failure a precise 4xx problem."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request

from scoreboard.adapters.web.problems import Problem


@dataclass(frozen=True)
class Field:
    kind: type[str] | type[int]
    required: bool = True
    low: int | None = None
    """The smallest value (int) or length (str)."""
    high: int | None = None
    """The largest value (int) or length (str)."""

    def problem_with(self, value: Any) -> str | None:
        if self.kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            return "must be an integer"
        if self.kind is str and not isinstance(value, str):
            return "must be a string"
        size = value if self.kind is int else len(value)
        if self.low is not None and size < self.low:
            return f"must be at least {self.low}" + ("" if self.kind is int else " characters")
        if self.high is not None and size > self.high:
            return f"must be at most {self.high}" + ("" if self.kind is int else " characters")
        if self.kind is str and not value.isprintable():
            return "must not contain control characters"
        return None


def header(request: Request, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as ``request.headers.get`` gives it, without
    building Starlette's ``Headers`` or raising and catching a ``KeyError`` for an absent header."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_json_body(request: Request, limit: int, *, required: bool = False) -> dict[str, Any]:
    """The JSON object body (``{}`` when absent and optional); 413, 415, 400 or 422 otherwise."""
    declared = header(request, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "payload-too-large", f"the body must be at most {limit} bytes")
    try:
        raw = await _read(request, limit)
    except ClientDisconnect as exc:  # the client hung up: nothing to answer, nothing to log as an error
        raise Problem(400, "client-disconnected", "the client closed the connection mid-request") from exc
    if not raw.strip():
        if required:
            raise Problem(422, "invalid-body", "a JSON object body is required")
        return {}
    media = (header(request, b"content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Problem(415, "unsupported-media-type", "the body must be application/json",
                      headers={"Accept-Post": "application/json"})
    try:
        body = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, "malformed-json", "the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise Problem(422, "invalid-body", "the body must be a JSON object")
    return body


async def _read(request: Request, limit: int) -> bytes:
    """The whole body, 413 past ``limit``. A request not read before is read straight from ``receive``
    as ``Request.stream`` reads it (same state left behind), without its async generator."""
    if hasattr(request, "_body") or request._stream_consumed:
        raw = b""
        async for chunk in request.stream():  # raises as Starlette does (e.g. a stream read before)
            raw += chunk
            if len(raw) > limit:
                raise Problem(413, "payload-too-large", f"the body must be at most {limit} bytes")
        return raw
    receive = request.receive
    raw = b""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            more = message.get("more_body", False)
            if not more:
                request._stream_consumed = True
            chunk = message.get("body", b"")
            if chunk:
                raw += chunk
                if len(raw) > limit:
                    raise Problem(413, "payload-too-large", f"the body must be at most {limit} bytes")
            if not more:
                return raw
        elif kind == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()


def validate(body: dict[str, Any], schema: dict[str, Field]) -> dict[str, Any]:
    """Check ``body`` against ``schema``; unknown fields are a 422 ``unknown-field`` problem."""
    unknown = sorted(set(body) - set(schema))
    if unknown:
        raise Problem(422, "unknown-field", f"unknown field(s): {', '.join(unknown)}",
                      errors=[{"field": name, "message": "unknown field"} for name in unknown])
    errors = [{"field": name, "message": "is required"}
              for name, spec in schema.items() if spec.required and name not in body]
    for name, value in body.items():
        message = schema[name].problem_with(value)
        if message:
            errors.append({"field": name, "message": message})
    if errors:
        raise Problem(422, "invalid-body", "; ".join(f"`{e['field']}` {e['message']}" for e in errors),
                      errors=errors)
    return body


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise ValueError("duplicate member name")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
