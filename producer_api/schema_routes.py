"""``GET /v1/schemas`` and ``GET /v1/schemas/{fingerprint}``: the event schemas for downstream consumers.

A consumer that meets a fingerprint it does not know (``C3 01`` + 8 bytes at the start of every record
value) asks for it here, once: a released version never changes (tests/unit/test_schema_versions.py
pins every file), so its answer is cacheable forever. The list grows when a deploy adds a version, so
it is cached briefly and carries an ETag. No I/O: everything is read from ``schemas/`` at import.
"""

from __future__ import annotations

import hashlib
import json
import re

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.adapters.codec import writer_schemas
from scoreboard.adapters.web.problems import Problem

FINGERPRINT = re.compile(r"[0-9a-fA-F]{16}")
"""Hex of the 8 fingerprint bytes exactly as they follow ``C3 01`` in a record (little-endian CRC-64-AVRO)."""
IMMUTABLE = "public, max-age=31536000, immutable"
LIST_CACHE = "public, max-age=300"

_BY_FINGERPRINT = {kept.fingerprint.hex(): kept for kept in writer_schemas()}
_LIST = json.dumps({"schemas": [{"name": kept.name, "version": kept.version, "fingerprint": kept.fingerprint.hex()}
                                for kept in writer_schemas()]}, separators=(",", ":")).encode()
_LIST_ETAG = '"' + hashlib.sha256(_LIST).hexdigest()[:32] + '"'


def _not_modified(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return wanted.strip() == "*" or etag in (tag.strip().removeprefix("W/") for tag in wanted.split(","))


def _answer(request: Request, body: bytes, etag: str, cache_control: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def list_schemas(request: Request) -> Response:
    """Every kept version of every record: ``{"schemas": [{"name", "version", "fingerprint"}]}``."""
    return _answer(request, _LIST, _LIST_ETAG, LIST_CACHE)


async def get_schema(request: Request) -> Response:
    """The ``.avsc`` file of the schema with this fingerprint, byte for byte."""
    fingerprint = request.path_params["fingerprint"]
    if not FINGERPRINT.fullmatch(fingerprint):
        raise Problem(422, "invalid-parameter",
                      "a fingerprint is 16 hex digits: the 8 bytes after C3 01 in a record, in order",
                      errors=[{"field": "fingerprint", "message": "expected 16 hex digits"}])
    kept = _BY_FINGERPRINT.get(fingerprint.lower())
    if kept is None:
        raise Problem(404, "unknown-schema", f"no schema has the fingerprint {fingerprint.lower()}")
    return _answer(request, kept.text.encode(), f'"{fingerprint.lower()}"', IMMUTABLE)
