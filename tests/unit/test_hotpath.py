"""The hot route answers exactly as the Starlette app behind it would: same endpoint, same
middleware, same exception handlers; anything else is the app's. Checked on a small app, then on
every route of the real api (``create_app``) with every request that needs no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from producer_api.bootstrap import build_services, create_app
from producer_api.hotpath import HotRoute
from scoreboard.adapters.auth import mint_token
from scoreboard.adapters.web.metrics import METHODS, HttpMetrics, MetricsMiddleware
from scoreboard.adapters.web.problems import EXCEPTION_HANDLERS, Problem
from scoreboard.settings import Settings


async def complete(request: Request) -> Response:
    action = request.path_params["action_id"]
    if action == "refused":
        raise Problem(409, "action-disabled", "no")
    if action == "broken":
        raise RuntimeError("bug")
    return JSONResponse({"action_id": action, "app": request.app.state.name}, status_code=202)


def build() -> tuple[HotRoute, HttpMetrics]:
    metrics = HttpMetrics(CollectorRegistry())
    route = Route("/v1/actions/{action_id}/complete", complete, methods=["POST"])
    middleware = [Middleware(MetricsMiddleware, metrics=metrics)]

    async def other(request: Request) -> Response:
        return JSONResponse({"other": True})

    app = Starlette(routes=[route, Route("/other", other)], middleware=middleware,
                    exception_handlers=EXCEPTION_HANDLERS)
    app.state.name = "the-app"

    def wrap(endpoint: ASGIApp) -> ASGIApp:
        for cls, args, kwargs in reversed(middleware):
            endpoint = cls(endpoint, *args, **kwargs)
        return endpoint

    return HotRoute(app, route, EXCEPTION_HANDLERS, wrap), metrics


def sample(metrics: HttpMetrics, **labels: Any) -> float:
    value = metrics.registry.get_sample_value("scoreboard_http_requests_total", labels)
    return value or 0.0


def test_the_hot_route_answers_like_the_app_with_its_handlers_and_metrics() -> None:
    hot, metrics = build()
    client = TestClient(hot, raise_server_exceptions=False)
    ok = client.post("/v1/actions/win/complete")
    assert ok.status_code == 202 and ok.json() == {"action_id": "win", "app": "the-app"}
    refused = client.post("/v1/actions/refused/complete")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("action-disabled")
    broken = client.post("/v1/actions/broken/complete")
    assert broken.status_code == 500 and broken.headers["content-type"] == "application/problem+json"
    route = "/v1/actions/{action_id}/complete"
    assert sample(metrics, route=route, method="POST", status="202") == 1
    assert sample(metrics, route=route, method="POST", status="409") == 1
    assert sample(metrics, route=route, method="POST", status="500") == 1


def test_everything_else_is_the_apps() -> None:
    hot, _ = build()
    client = TestClient(hot)
    assert client.get("/other").json() == {"other": True}
    assert client.get("/v1/actions/win/complete").status_code == 405  # the app's router answers
    assert client.post("/v1/actions/a/b/complete").status_code == 404


# The real api, on settings that point at nothing: no Kafka broker at all (a producer would dial one
# at once), and Postgres and Redis where nothing listens; those connect only when a request needs
# them, and no probe below does. Both rate limits are off, so no Redis call precedes the handlers.
NOWHERE = "127.0.0.1:9"
SECRET = "s" * 40
SETTINGS = Settings(kafka_bootstrap="", database_url=f"postgresql://nobody@{NOWHERE}/nothing",
                    redis_url=f"redis://{NOWHERE}/0", jwt_secret=SECRET, ticket_secret="t" * 40,
                    event_signing_secret="e" * 40, rate_user_per_second=0, rate_ip_per_second=0)
USER = {"Authorization": "Bearer " + mint_token(SECRET, "ann")}
OWN_HISTORY = "/v1/users/ann/history"
ADMIN = {"Authorization": "Bearer " + mint_token(SECRET, "root", roles=("admin",))}
JSON = {"Content-Type": "application/json"}
KEY = {"Idempotency-Key": "probe-key-0001"}
FILL = "no-such-thing"
"""Every path parameter: no board, action or user of that name."""
HOT = re.compile(r"/v1/actions/[^/]+/complete")
"""The one (POST) path the hot route may take, written out rather than asked of the route."""


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def anonymous(path: str) -> list[Probe]:
    return [Probe("POST", path), Probe("POST", path, {"Authorization": "Bearer not-a-jwt"}),
            Probe("POST", path, {"Authorization": "Basic YTpi"})]


def bad_bodies(path: str, headers: dict[str, str]) -> list[Probe]:
    return [Probe("POST", path, headers | JSON, b'{"unknown": 1}'), Probe("POST", path, headers | JSON, b"{"),
            Probe("POST", path, headers | JSON, b"[]"), Probe("POST", path, headers, b'{"a": 1}'),
            Probe("POST", path, headers | JSON, b" " * 5000)]


def admin_command(path: str) -> list[Probe]:
    return anonymous(path) + [Probe("POST", path, USER), Probe("POST", path.replace(FILL, "a%20b"), ADMIN),
                              Probe("POST", path, ADMIN | {"Idempotency-Key": "short"}),
                              Probe("POST", path, ADMIN | KEY)] + bad_bodies(path, ADMIN | KEY)


def reads(path: str, *queries: str) -> list[Probe]:
    return [Probe(method, path + query) for method in ("GET", "HEAD") for query in ("", *queries)]


ALLOWED: dict[str, Callable[[str], list[Probe]]] = {
    "/v1/actions": reads,
    "/v1/actions/{action_id}/start": lambda path: anonymous(path) + bad_bodies(path, USER),
    "/v1/actions/{action_id}/complete": lambda path: anonymous(path) + [
        Probe("POST", path, USER), Probe("POST", path, USER | {"Idempotency-Key": "bad key!"}),
        Probe("POST", path, USER | KEY | JSON, b'{"ticket": 5}')] + bad_bodies(path, USER | KEY),
    "/v1/leaderboards/{board}": lambda path: reads(path, "?as_of=yesterday", "?as_of=2026-01-01T00:00:00"),
    "/v1/leaderboards/{board}/users/{user_id}": reads,
    "/v1/leaderboards/{board}/users/{user_id}/around": lambda path: reads(path, "?radius=99", "?radius=x"),
    "/v1/me": lambda path: [Probe("GET", path), Probe("GET", path, {"Authorization": "Bearer not-a-jwt"})],
    "/v1/users/{user_id}/history": lambda path: [
        Probe("GET", path), Probe("GET", path, USER), Probe("GET", OWN_HISTORY + "?limit=0", USER),
        Probe("GET", OWN_HISTORY + "?cursor=not-ours", USER)],
    "/v1/admin/users/{user_id}/adjustments": lambda path: admin_command(path) + [
        Probe("POST", path, ADMIN | KEY | JSON, b'{"delta": 0, "reason": "r"}')],
    "/v1/admin/users/{user_id}/ban": admin_command,
    "/v1/admin/users/{user_id}/unban": admin_command,
    "/v1/admin/users/{user_id}/flag": admin_command,
    "/v1/admin/reviews": lambda path: reads(path) + [Probe("GET", path, USER), Probe("GET", path + "?status=x", ADMIN)],
    "/v1/admin/reviews/{user_id}/decision": lambda path: admin_command(path) + [
        Probe("POST", path, ADMIN | JSON, b'{"decision": "maybe"}'),
        Probe("POST", path, ADMIN | JSON, b'{"decision": "reject"}')],
    "/v1/admin/purges": lambda path: anonymous(path) + [Probe("POST", path, USER)] + bad_bodies(path, ADMIN) + [
        Probe("POST", path, ADMIN | JSON, b'{"action_id": "win-match", "from": "x", "until": "y", "reason": "r"}')],
    "/v1/schemas": lambda path: reads(path) + [Probe("GET", path, {"If-None-Match": "*"})],
    "/v1/schemas/{fingerprint}": lambda path: reads(path) + reads("/v1/schemas/d1b4c22d5b303919")
    + reads("/v1/schemas/0000000000000000"),
    "/healthz": reads,
    "/readyz": lambda path: [],  # every answer asks Kafka, Postgres and Redis
    "/metrics": reads,
    "/openapi.json": reads,
}
"""For each route, the requests of its own methods that are answered before any I/O."""


class Seen:
    """Pass-through middleware that notes each request the Starlette app itself serves."""

    def __init__(self, app: ASGIApp, log: list[str]) -> None:
        self._app = app
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._log.append(f"{scope['method']} {scope['path']}")
        await self._app(scope, receive, send)


@dataclass
class RealApi:
    hot: HotRoute
    plain: Starlette
    """Another ``create_app`` of the same services, served as plain Starlette."""
    seen: list[str]

    def routes(self) -> list[Route]:
        routes = self.hot.app.routes
        assert all(isinstance(route, Route) for route in routes), "only HTTP routes are probed here"
        return [route for route in routes if isinstance(route, Route)]


@pytest.fixture(scope="module")
def real_api() -> Iterator[RealApi]:
    services = build_services(SETTINGS)
    hot, plain = create_app(services), create_app(services).app
    seen: list[str] = []
    hot.app.add_middleware(Seen, log=seen)
    try:
        yield RealApi(hot, plain, seen)
    finally:
        services.publisher.close(timeout_s=1)


def probes_of(route: Route) -> list[Probe]:
    path = route.url_path_for(route.name, **{name: FILL for name in route.param_convertors})
    assert route.methods is not None
    allowed = ALLOWED[route.path](path)
    others = [Probe(method, path) for method in sorted(METHODS - route.methods)]
    beside = [Probe(method, path + tail) for method in ("GET", "POST") for tail in ("/", "/more", "x")]
    return allowed + others + beside


def answer(client: TestClient, probe: Probe) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body; ``X-Request-ID`` (generated afresh for each answer) left out."""
    response = client.request(probe.method, probe.path, headers=probe.headers, content=probe.body or None)
    headers = sorted((k, v) for k, v in response.headers.multi_items() if k != "x-request-id")
    if probe.path == "/metrics" and response.status_code == 200:  # counts and times requests: see the end
        return response.status_code, [(k, v) for k, v in headers if k != "content-length"], b""
    return response.status_code, headers, response.content


def request_counts(client: TestClient) -> dict[tuple[tuple[str, str], ...], float]:
    text = client.get("/metrics").text
    return {tuple(sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) if family.name == "scoreboard_http_requests"
            for sample in family.samples if sample.name == "scoreboard_http_requests_total"}


def test_the_probe_table_names_every_route_of_the_real_api(real_api: RealApi) -> None:
    """The probe table covers exactly the app's routes: a new route needs its probes written."""
    assert sorted(route.path for route in real_api.routes()) == sorted(ALLOWED)


def test_only_post_complete_takes_the_hot_route_and_every_answer_is_the_apps(real_api: RealApi) -> None:
    """For every route of the real api, each method, and paths beside it, the hot route's answer is
    the plain Starlette app's (status, headers, body), it serves only ``POST /v1/actions/{id}/complete``
    itself, and the request metrics come out the same."""
    hot = TestClient(real_api.hot, raise_server_exceptions=False, follow_redirects=False)
    plain = TestClient(real_api.plain, raise_server_exceptions=False, follow_redirects=False)
    differ, misrouted, statuses = [], [], set()
    for route in real_api.routes():
        for probe in probes_of(route):
            before = len(real_api.seen)
            got, expected = answer(hot, probe), answer(plain, probe)
            statuses.add(expected[0])
            if got != expected:
                differ.append(f"{probe}: hot route {got!r}, app {expected!r}")
            took_hot = len(real_api.seen) == before
            if took_hot != (probe.method == "POST" and HOT.fullmatch(probe.path.split("?")[0]) is not None):
                misrouted.append(f"{probe.method} {probe.path}: {'hot route' if took_hot else 'app'}")
    assert not differ, "\n".join(differ)
    assert not misrouted, "\n".join(misrouted)
    assert {200, 307, 400, 401, 403, 404, 405, 413, 415, 422} <= statuses  # the probes reach every check
    assert request_counts(hot) == request_counts(plain)
