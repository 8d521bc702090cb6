"""Composition root of the gateway process. Run it with ``scoreboard gateway``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

import uvicorn
from prometheus_client import Gauge, Histogram
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from gateway import moderation, push, stages
from gateway.feed import Feed, kafka_consumer
from gateway.hub import Hub
from gateway.processes import fork_children, reap, reuse_port_socket, signal_children
from gateway.services import GatewayServices
from gateway.wsserver import PushWebSocketProtocol
from scoreboard.adapters.kafka_security import aiokafka_config
from scoreboard.adapters.web.health import Health
from scoreboard.adapters.web.metrics import HttpMetrics, MetricsMiddleware, process_registry
from scoreboard.adapters.web.problems import EXCEPTION_HANDLERS
from scoreboard.domain.clock import SystemClock
from scoreboard.runtime.gctuning import collect_less_often
from scoreboard.runtime.stopping import stop_task
from scoreboard.runtime.tracing import tracing_for
from scoreboard.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
# The server drops larger frames (1009) before the app reads them; the app's own limit is smaller.
WS_MAX_FRAME_BYTES = 16 * 1024


def build_services(settings: Settings) -> GatewayServices:
    hub = Hub()
    feed = Feed(kafka_consumer(settings.kafka_bootstrap, extra=aiokafka_config(settings)), hub,
                settings.change_keyring(),
                sources=frozenset(settings.gateway_sources), tracing=tracing_for(settings, "gateway"))
    return GatewayServices(settings, hub, feed, SystemClock())


def create_app(services: GatewayServices) -> Starlette:
    registry = process_registry()
    metrics = HttpMetrics(registry)
    connections = Gauge("scoreboard_gateway_connections", "open WebSocket and SSE subscriptions",
                        registry=registry)
    connections.set_function(services.hub.connection_count)
    push_latency = Histogram("scoreboard_gateway_push_seconds", "time from the board change to a WebSocket update sent "
                             "(for the updates the hub writes itself: one sample per version and write pass)",
                             registry=registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
    services.observe_push = push_latency.observe
    services.hub.on_written = push.observe_written(push_latency.observe)
    gc_watch = stages.GcWatch()
    services.hub.on_pass = stages.pass_logger(gc_watch)
    lagging = Gauge("scoreboard_gateway_lagging_subscriptions", "subscriptions behind their board's latest version",
                    registry=registry)
    lagging.set_function(services.hub.lagging_count)

    async def feed_ready() -> bool:
        return services.feed.connected and services.feed.caught_up.is_set()

    health = Health({"kafka": feed_ready})

    async def dashboard(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(services.feed.run())
        gc_watch.install()
        try:
            yield
        finally:
            gc_watch.uninstall()
            await stop_task(task, "the gateway's feed")

    app = Starlette(
        routes=[
            Route("/", dashboard, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
            *moderation.routes(services.settings),
            WebSocketRoute("/v1/leaderboards/{board}/ws", push.websocket_endpoint),
            Route("/v1/leaderboards/{board}/events", push.sse_endpoint, methods=["GET"]),
            Route("/healthz", health.healthz, methods=["GET"]),
            Route("/readyz", health.readyz, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
        ],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.services = services
    return app


class _GatewayServer(uvicorn.Server):
    """uvicorn, but a stop signal first tells the open streams that the server is going away."""

    def __init__(self, config: uvicorn.Config, services: GatewayServices, children: list[int] | None = None) -> None:
        super().__init__(config)
        self._services = services
        self._children = children or []

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        signal_children(self._children, sig)
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_soon(self._services.going_away.set)
        super().handle_exit(sig, frame)


def main(settings: Settings | None = None, processes: int = 1) -> None:
    """``processes`` > 1: that many processes share the port (``gateway.processes``)."""
    settings = settings or Settings.from_env()
    children = fork_children(processes) if processes > 1 else []
    sockets = [reuse_port_socket(settings.gateway_host, settings.gateway_port)] if processes > 1 else None
    services = build_services(settings)
    config = uvicorn.Config(create_app(services), host=settings.gateway_host, port=settings.gateway_port,
                            log_level="warning", timeout_graceful_shutdown=5, ws_max_size=WS_MAX_FRAME_BYTES,
                            ws=PushWebSocketProtocol,
                            proxy_headers=False,  # whose X-Forwarded-For counts: SCOREBOARD_TRUSTED_PROXIES only
                            log_config=None)  # uvicorn's loggers reach the JSON handler (runtime.logs)
    collect_less_often()
    _GatewayServer(config, services, children).run(sockets=sockets)
    reap(children or [])
