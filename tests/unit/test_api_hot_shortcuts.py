"""The completion path's shortcuts give exactly what the library calls they replace give: the event id
(``uuid.uuid5``), the idempotency record (``json.dumps``), the UTC day of the reservation keys, the
answer (``JSONResponse``), the claim's outcome, the header lookups and the body read."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Message

from producer_api import bodies, idempotency
from producer_api.bodies import header, read_json_body
from producer_api.completions import utc_day
from producer_api.idempotency import Claim, Remembered, event_id_for
from producer_api.ingest import Receipt
from producer_api.routes import _receipt_response
from scoreboard.adapters import codec
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain.clock import to_datetime
from scoreboard.domain.events import ActionCompleted

NAMESPACE = uuid.UUID("6f1b7d4e-2a51-4c1e-9a43-5b0e5c2f7d10")
TEXT = st.text(max_size=40)


@settings(max_examples=500)
@given(TEXT, TEXT)
def test_the_event_id_is_uuid5_of_user_and_nonce(user: str, nonce: str) -> None:
    assert event_id_for(user, nonce) == str(uuid.uuid5(NAMESPACE, f"{user}\x00{nonce}"))


class Text(str):
    """A str subclass: the direct formatting leaves such values to ``json.dumps``."""


@settings(max_examples=500)
@given(TEXT, TEXT, st.integers(-(2**70), 2**70), TEXT, st.booleans(), st.booleans())
def test_the_idempotency_record_is_what_json_dumps_writes(event_id: str, action_id: str, points: int,
                                                          fingerprint: str, acknowledged: bool, ack: bool) -> None:
    for record in (Remembered(event_id, action_id, points, fingerprint, acknowledged),
                   Remembered(Text(event_id), action_id, points, fingerprint, acknowledged)):
        expected = json.dumps({"event_id": record.event_id, "action_id": record.action_id, "points": record.points,
                               "fp": record.fingerprint, "ack": ack or record.acknowledged})
        assert idempotency._dump(record, acknowledged=ack) == expected
        assert idempotency._load(expected) == Remembered(event_id, action_id, points, fingerprint,
                                                         ack or acknowledged)


def test_every_claim_outcome_is_looked_up() -> None:
    assert {idempotency._CLAIMS[claim.value.encode()] for claim in Claim} == set(Claim)


@settings(max_examples=2000)
@given(st.one_of(st.integers(-(10**16), 5 * 10**15), st.integers(0, 86_400_000_000).map(
    lambda us: 1_764_547_200_000_000 + us - 1)))
def test_the_utc_day_is_the_days_of_the_datetime(now_us: int) -> None:
    assert utc_day(now_us) == to_datetime(now_us).date().isoformat()


@settings(max_examples=300)
@given(TEXT, TEXT, st.integers(-(2**70), 2**70), st.booleans())
def test_the_answer_is_the_json_response_s(event_id: str, action_id: str, points: int, duplicate: bool) -> None:
    status = 200 if duplicate else 202
    for receipt in (Receipt(event_id, action_id, points, duplicate), Receipt(Text(event_id), action_id, points,
                                                                                 duplicate)):
        expected = JSONResponse({"event_id": receipt.event_id, "status": "duplicate" if duplicate else "accepted",
                                 "action_id": receipt.action_id, "points": receipt.points}, status_code=status)
        got = _receipt_response(receipt, status)
        assert (got.status_code, got.raw_headers, got.body) == (expected.status_code, expected.raw_headers,
                                                                expected.body)


def request_of(headers: list[tuple[bytes, bytes]], messages: list[Message]) -> Request:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive)


def test_a_header_is_the_first_of_its_name_as_starlette_reads_it() -> None:
    headers = [(b"prefer", b"wait=1"), (b"x-device-id", b"d\xe9vice"), (b"prefer", b"wait=2")]
    request = request_of(headers, [])
    for name in ("prefer", "x-device-id", "content-type"):
        assert header(request, name.encode()) == request.headers.get(name)


BODIES: list[list[Message]] = [
    [{"type": "http.request", "body": b""}],
    [{"type": "http.request", "body": b'{"ticket": "t"}'}],
    [{"type": "http.request", "body": b'{"tic', "more_body": True}, {"type": "http.request", "body": b'ket": 1}'}],
    [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.request", "body": b""}],
    [{"type": "http.request", "body": b"x" * 60, "more_body": True}, {"type": "http.request", "body": b"x" * 60}],
    [{"type": "http.request", "body": b"{}", "more_body": True}, {"type": "http.disconnect"}],
    [{"type": "http.request", "body": b"[]"}],
    [{"type": "http.request", "body": b"  "}],
]


async def before(request: Request, limit: int) -> dict[str, Any]:
    """``read_json_body`` as it was, reading through ``Request.stream`` (the reference)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "payload-too-large", f"the body must be at most {limit} bytes")
    raw = b""
    try:
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                raise Problem(413, "payload-too-large", f"the body must be at most {limit} bytes")
    except ClientDisconnect as exc:
        raise Problem(400, "client-disconnected", "the client closed the connection mid-request") from exc
    if not raw.strip():
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Problem(415, "unsupported-media-type", "the body must be application/json")
    try:
        body = json.loads(raw, object_pairs_hook=bodies._no_duplicates, parse_constant=bodies._no_constants)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, "malformed-json", "the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise Problem(422, "invalid-body", "the body must be a JSON object")
    return body


async def outcome(request: Request, read: Any) -> tuple[Any, bool, bool]:
    try:
        found: Any = await read(request, 100)
    except Problem as problem:
        found = (problem.status, problem.slug)
    return found, request._stream_consumed, request._is_disconnected


HEADERS = [[(b"content-type", b"application/json")], [(b"content-type", b"text/plain")],
           [(b"content-length", b"101"), (b"content-type", b"application/json")]]


@pytest.mark.parametrize("headers", HEADERS)
@pytest.mark.parametrize("messages", BODIES)
def test_the_body_is_read_as_through_starlette_s_stream(headers: list[tuple[bytes, bytes]],
                                                        messages: list[Message]) -> None:
    got = asyncio.run(outcome(request_of(headers, messages), read_json_body))
    expected = asyncio.run(outcome(request_of(headers, messages), before))
    assert got == expected


def test_a_body_read_before_is_read_again_from_starlette() -> None:
    request = request_of([(b"content-type", b"application/json")], [{"type": "http.request", "body": b'{"a": 1}'}])
    assert asyncio.run(request.body()) == b'{"a": 1}'
    assert asyncio.run(read_json_body(request, 100)) == {"a": 1}


def test_an_event_is_encoded_from_its_fields_alone() -> None:
    event = ActionCompleted(event_id=str(uuid.uuid4()), user_id="u\u00e9", action_id="win-match", nonce="n" * 20,
                            points=100, catalog_version="v1", occurred_at_us=1_764_547_200_123_456,
                            request_id="r", client_hash="c" * 32)
    fields = {name: getattr(event, name) for name in codec._field_names("ActionCompleted")}
    assert codec._to_record(event) == fields
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, codec._codec("ActionCompleted").parsed, fields)
    assert codec.encode(event) == codec.MAGIC + codec._codec("ActionCompleted").fingerprint + buffer.getvalue()
    assert codec.decode(codec.encode(event)) == event
