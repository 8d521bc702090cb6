"""Prometheus request metrics as a tiny ASGI middleware, the ``/metrics`` endpoint, and the registry
every process exposes (its own metrics beside the standard process, platform and GC ones).

Every name of ours starts with ``scoreboard_``; counters end in ``_total``, durations in ``_seconds``
(docs/operations.md, "Metrics", lists them all)."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def process_registry() -> CollectorRegistry:
    """A registry of its own (so tests and several apps in one process do not collide) that still
    exposes what operators expect of any Python process: ``process_*`` (CPU seconds, resident memory,
    open fds, start time), ``python_info`` and ``python_gc_*``."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class Deferred:
    """Observations made on a hot path, applied to their Prometheus series when the registry is read.

    A registered collector that yields nothing: collecting the registry (``/metrics``,
    ``get_sample_value``) first applies every pending observation, in order, so every reader sees
    the same numbers as if each had been applied at once (the series must be registered after this
    collector, which the registry then reads first). A request pays a deque append instead of the
    series' locks and the histogram's bucket search; past ``limit`` pending ones, they are applied on
    the spot, so memory stays bounded without a reader."""

    def __init__(self, registry: CollectorRegistry, limit: int = 4096) -> None:
        self._pending: collections.deque[tuple[Any, Any, float]] = collections.deque()
        self._limit = limit
        registry.register(self)

    def add(self, counter: Any, histogram: Any, amount: float) -> None:
        """Later: ``counter.inc()`` (if not None), then ``histogram.observe(amount)``."""
        self._pending.append((counter, histogram, amount))
        if len(self._pending) > self._limit:
            self.apply()

    def observer(self, histogram: Any) -> Callable[[float], None]:
        """``histogram.observe``, deferred."""
        def observe(amount: float) -> None:
            self.add(None, histogram, amount)
        return observe

    def apply(self) -> None:
        pending = self._pending
        while pending:  # popleft is atomic: a reader in another thread takes each observation once
            try:
                counter, histogram, amount = pending.popleft()
            except IndexError:
                return
            if counter is not None:
                counter.inc()
            histogram.observe(amount)

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        self.apply()
        return ()


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.deferred = Deferred(registry)
        """Registered before the series, so reading the registry applies what is pending first."""
        self.requests = Counter("scoreboard_http_requests_total", "HTTP requests answered",
                                ["route", "method", "status"], registry=registry)
        self.latency = Histogram("scoreboard_http_request_duration_seconds", "HTTP request latency",
                                 ["route", "method"],
                                 registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        """(route, method, status) -> its counter and histogram children, looked up once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_name(scope)
            method = scope["method"] if scope["method"] in METHODS else "other"  # labels stay bounded
            series = self._series.get((route, method, status))
            if series is None:
                series = (self.metrics.requests.labels(route, method, str(status)),
                          self.metrics.latency.labels(route, method))
                self._series[(route, method, status)] = series
            self.metrics.deferred.add(series[0], series[1], elapsed)


def _route_name(scope: Scope) -> str:
    """The route template (a bounded label), read after the call: Starlette's router leaves the matched
    route in the scope; a request answered before routing (e.g. rate limited) is matched here."""
    matched = scope.get("route")
    if matched is not None and hasattr(matched, "path"):
        return str(matched.path)
    app: Any = scope.get("app")
    for route in getattr(app, "routes", []):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"
