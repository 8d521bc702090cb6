"""The hot route answers exactly as the Starlette app behind it would: same endpoint, same
middleware, same exception handlers; anything else is the app's."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from producer_api.hotpath import HotRoute
from scoreboard.adapters.web.metrics import HttpMetrics, MetricsMiddleware
from scoreboard.adapters.web.problems import EXCEPTION_HANDLERS, Problem


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
    value = metrics.registry.get_sample_value("http_requests_total", labels)
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
