"""``X-Request-ID``: the api answers every request with one, on the hot route and on the Starlette app
alike, problems and 500s included; it is the client's when well formed, and the id the completion
records is the one echoed."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from producer_api.bootstrap import build_services, create_app
from producer_api.hotpath import HotRoute
from producer_api.request_ids import RequestIds
from producer_api.routes import request_id
from scoreboard.adapters.web.metrics import HttpMetrics, MetricsMiddleware
from scoreboard.adapters.web.problems import EXCEPTION_HANDLERS
from scoreboard.runtime.logs import JsonFormatter
from scoreboard.settings import Settings

GENERATED = re.compile(r"[0-9a-f]{32}")
NOWHERE = "127.0.0.1:9"
SETTINGS = Settings(kafka_bootstrap="", database_url=f"postgresql://nobody@{NOWHERE}/nothing",
                    redis_url=f"redis://{NOWHERE}/0", jwt_secret="s" * 40, ticket_secret="t" * 40,
                    event_signing_secret="e" * 40, rate_user_per_second=0, rate_ip_per_second=0)
"""As in test_hotpath: no broker, nothing listening, no rate limit; no probe below needs I/O."""
HOT_PATH = "/v1/actions/daily-login/complete"


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    """The real api (``create_app``)."""
    services = build_services(SETTINGS)
    try:
        yield TestClient(create_app(services), raise_server_exceptions=False)
    finally:
        services.publisher.close(timeout_s=1)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", HOT_PATH, 401),                     # the hot route, a problem (no token)
    ("GET", "/v1/actions", 200),                 # the Starlette app
    ("GET", "/v1/no-such-route", 404),           # the Starlette app, a problem
    ("DELETE", HOT_PATH, 405),                   # beside the hot route, answered by the app
])
def test_every_answer_echoes_a_well_formed_request_id(api: TestClient, method: str, path: str, status: int) -> None:
    """A client's well-formed X-Request-ID comes back unchanged, on the hot route and elsewhere."""
    response = api.request(method, path, headers={"X-Request-ID": "client-req.0001:a"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "client-req.0001:a"


@pytest.mark.parametrize("given", [None, "short", "has space in it", "x" * 129])
@pytest.mark.parametrize("path", [HOT_PATH, "/v1/actions"])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_generated_one(
    api: TestClient, given: str | None, path: str,
) -> None:
    """Without one, or with one outside the key format, the answer carries a new random id."""
    headers = {} if given is None else {"X-Request-ID": given}
    method = "POST" if path == HOT_PATH else "GET"
    first = api.request(method, path, headers=headers).headers["x-request-id"]
    second = api.request(method, path, headers=headers).headers["x-request-id"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second


def small_app() -> TestClient:
    """A HotRoute like the api's, whose endpoints answer the id the completion would record, or fail."""

    async def complete(request: Request) -> Response:
        if request.path_params["action_id"] == "broken":
            raise RuntimeError("bug")
        return JSONResponse({"request_id": request_id(request)}, status_code=202)

    async def other(request: Request) -> Response:
        if request.query_params.get("fail"):
            raise RuntimeError("bug")
        return JSONResponse({"request_id": request_id(request)})

    route = Route("/v1/actions/{action_id}/complete", complete, methods=["POST"])
    middleware = [Middleware(MetricsMiddleware, metrics=HttpMetrics(CollectorRegistry()))]
    app = Starlette(routes=[route, Route("/other", other)], middleware=middleware,
                    exception_handlers=EXCEPTION_HANDLERS)

    def wrap(endpoint: ASGIApp) -> ASGIApp:
        for cls, args, kwargs in reversed(middleware):
            endpoint = cls(endpoint, *args, **kwargs)
        return endpoint

    return TestClient(HotRoute(app, route, EXCEPTION_HANDLERS, wrap, outer=RequestIds),
                      raise_server_exceptions=False)


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/actions/win/complete"), ("GET", "/other")])
def test_the_id_a_handler_records_is_the_one_echoed(method: str, path: str) -> None:
    """Given or generated, the id the completion puts in its event is the answer's X-Request-ID."""
    client = small_app()
    given = client.request(method, path, headers={"X-Request-ID": "follow-me-123"})
    assert given.json() == {"request_id": "follow-me-123"} and given.headers["x-request-id"] == "follow-me-123"
    generated = client.request(method, path)
    assert generated.json() == {"request_id": generated.headers["x-request-id"]}


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/actions/broken/complete"), ("GET", "/other?fail=1")])
def test_a_500_also_carries_the_request_id(method: str, path: str) -> None:
    """An unexpected error is answered 500 problem+json with the id, on both paths (the Starlette
    app's 500 comes from its outermost error middleware, inside RequestIds)."""
    response = small_app().request(method, path, headers={"X-Request-ID": "broken-0001"})
    assert response.status_code == 500 and response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "broken-0001"


def test_a_line_logged_while_a_request_is_served_carries_its_id() -> None:
    """The 500's log line (logged by the error handler, not by our code's request) names the request."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("api"))
    logger = logging.getLogger("scoreboard.adapters.web.problems")
    logger.addHandler(handler)
    disabled, logger.disabled = logger.disabled, False  # another test's dictConfig may have disabled it
    try:
        small_app().post("/v1/actions/broken/complete", headers={"X-Request-ID": "trace-me-0001"})
    finally:
        logger.removeHandler(handler)
        logger.disabled = disabled
    [line] = stream.getvalue().splitlines()
    logged = json.loads(line)
    assert logged["request_id"] == "trace-me-0001" and logged["level"] == "error" and "RuntimeError" in logged["exc"]
