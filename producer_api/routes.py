"""HTTP handlers of the api: decode the request, call a use case or a read model, encode the answer."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from psycopg import OperationalError
from psycopg.errors import QueryCanceled
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from producer_api.bodies import Field, header, read_json_body, validate
from producer_api.idempotency import KEY_FORMAT
from producer_api.ingest import Client, Receipt
from producer_api.request_ids import request_id_of
from producer_api.visibility import preferred_wait
from scoreboard.adapters.auth import AuthError, Principal
from scoreboard.adapters.tracing import SpanKind, failed
from scoreboard.adapters.web.client_address import client_address_of
from scoreboard.adapters.web.problems import Problem, problem_response
from scoreboard.domain.errors import DependencyUnavailable

if TYPE_CHECKING:
    from producer_api.services import Services

log = logging.getLogger(__name__)
COMPLETE_BODY = {"ticket": Field(str, required=False, low=1, high=1024)}


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def authenticate(request: Request, found: Services | None = None) -> Principal:
    """The caller of ``request`` (``found``: its services, when the caller has them at hand already)."""
    scheme, _, token = (header(request, b"authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "a Bearer token is required",
                      headers={"WWW-Authenticate": 'Bearer realm="scoreboard"'})
    verifier = (found or services(request)).verifier
    try:
        if verifier.blocking:
            return await asyncio.to_thread(verifier.verify, token.strip())
        return verifier.verify(token.strip())
    except AuthError as exc:
        raise Problem(401, "unauthorized", str(exc),
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


async def command_principal(request: Request, found: Services | None = None) -> Principal:
    """The authenticated caller of a command, within their per-user rate limit."""
    found = found or services(request)
    principal = await authenticate(request, found)
    try:
        await found.limiter.enforce(found.user_bucket, principal.user_id)
    except Problem:
        await found.guard.note_refusal(principal.user_id)  # evidence for the ``prober`` detector
        raise
    return principal


def idempotency_key(request: Request) -> str:
    key = header(request, b"idempotency-key") or ""
    if not KEY_FORMAT.match(key):
        raise Problem(422, "invalid-idempotency-key",
                      "the Idempotency-Key header is required: 8 to 128 characters of [A-Za-z0-9._:-]")
    return key


def request_id(request: Request) -> str:
    """The id echoed in the answer's ``X-Request-ID`` (``producer_api.request_ids``)."""
    return request_id_of(request)


async def start_action(request: Request) -> Response:
    principal = await command_principal(request)
    found = services(request)
    validate(await read_json_body(request, found.settings.max_body_bytes), {})
    issued = await found.start(principal, request.path_params["action_id"])
    return JSONResponse(issued.to_json(), status_code=201)


COMPLETE_ROUTE = "/v1/actions/{action_id}/complete"


async def complete_action(request: Request) -> Response:
    """One span per request when tracing is on; its context goes into the action record's headers."""
    found = services(request)
    tracing = found.tracing
    if not tracing.enabled:
        return await _complete_action(request, found)
    with tracing.span(f"POST {COMPLETE_ROUTE}", kind=SpanKind.SERVER, attributes={
            "http.request.method": "POST", "http.route": COMPLETE_ROUTE,
            "scoreboard.action_id": request.path_params.get("action_id", ""),
            "scoreboard.request_id": request_id(request)}, expected=(Problem,)) as span:
        try:
            response = await _complete_action(request, found)
        except Problem as problem:  # a client's error (4xx) is an answer, not a failure of the span
            if span is not None:
                span.set_attribute("http.response.status_code", problem.status)
                if problem.status >= 500:
                    failed(span, problem)
            raise
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
        return response


async def _complete_action(request: Request, found: Services) -> Response:
    principal = await command_principal(request, found)
    key = idempotency_key(request)
    body = await read_json_body(request, found.settings.max_body_bytes)
    if body or not _COMPLETE_BODY_MAY_BE_EMPTY:
        body = validate(body, COMPLETE_BODY)
    client = Client(client_address_of(request.scope, found.trusted_proxies), header(request, b"x-device-id"))
    receipt = await found.complete(principal, request.path_params["action_id"], key, request_id(request),
                                   body.get("ticket"), client)
    status = 200 if receipt.duplicate else 202
    prefer = header(request, b"prefer")
    wait = preferred_wait(prefer) if prefer else None
    if not wait:
        return _receipt_response(receipt, status)
    answer: dict[str, object] = {
        "event_id": receipt.event_id,
        "status": "duplicate" if receipt.duplicate else "accepted",
        "action_id": receipt.action_id,
        "points": receipt.points,
    }
    # read-your-writes: answer once the boards show the action, or when the wait ends
    fate = await found.visibility.until_visible(receipt.event_id, wait)
    answer["visible"] = fate.visible
    answer["outcome"] = fate.state
    if fate.reason:
        answer["rejection"] = {"code": fate.reason.split(":", 1)[0], "reason": fate.reason}
    return JSONResponse(answer, status_code=status, headers={"Preference-Applied": f"wait={wait}"})


_COMPLETE_BODY_MAY_BE_EMPTY = not any(spec.required for spec in COMPLETE_BODY.values())
"""``validate({}, COMPLETE_BODY)`` accepts an empty body as it is, so an empty body skips it."""
_TEXT = json.encoder.encode_basestring


def _receipt_response(receipt: Receipt, status: int) -> Response:
    """The answer ``JSONResponse`` gives for the receipt (same headers, same bytes), its JSON written
    directly when the fields have their plain types (tests/unit/test_api_hot_shortcuts.py compares them)."""
    event_id, action_id, points = receipt.event_id, receipt.action_id, receipt.points
    verdict = "duplicate" if receipt.duplicate else "accepted"
    if event_id.__class__ is str and action_id.__class__ is str and points.__class__ is int:
        body = (f'{{"event_id":{_TEXT(event_id)},"status":"{verdict}","action_id":{_TEXT(action_id)},'
                f'"points":{points}}}').encode()
        return Response(body, status_code=status, media_type=JSONResponse.media_type)
    return JSONResponse({"event_id": event_id, "status": verdict, "action_id": action_id, "points": points},
                        status_code=status)


async def list_actions(request: Request) -> Response:
    catalog = services(request).catalog
    return JSONResponse({
        "catalog_version": catalog.version,
        "limits": catalog.limits.public(),
        "actions": [action.public() for action in catalog.actions.values()],
    })


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


async def on_unavailable(request: Request, exc: Exception) -> Response:
    """Kafka, Redis or the key set did not answer: 503, the client may retry with the same key."""
    log.warning("dependency unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(503, "dependency-unavailable", "a dependency did not answer; retry shortly",
                            instance=request.url.path, headers={"Retry-After": "2"})


async def on_query_cancelled(request: Request, exc: Exception) -> Response:
    """A ledger read ran past SCOREBOARD_HISTORY_STATEMENT_TIMEOUT_MS and Postgres cut it: 503, not 500."""
    log.warning("query cut by its statement timeout on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(503, "query-timeout", "this read took longer than the server allows; retry later, "
                            "or ask for a smaller page", instance=request.url.path, headers={"Retry-After": "5"})


UNAVAILABLE_HANDLERS = {DependencyUnavailable: on_unavailable, RedisError: on_unavailable,
                        OperationalError: on_unavailable, PoolTimeout: on_unavailable,
                        QueryCanceled: on_query_cancelled}
