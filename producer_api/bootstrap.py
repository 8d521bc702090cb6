"""Composition root of the api process: read settings, build the adapters, hand them to the app.

Run it with ``scoreboard api`` (uvicorn on SCOREBOARD_API_HOST:SCOREBOARD_API_PORT).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Histogram
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from producer_api import admin_routes, moderation_routes, query_routes, routes, schema_routes
from producer_api.admin_commands import AdminCommands
from producer_api.appender import ActionLog
from producer_api.board_cache import BoardCache
from producer_api.board_feed import BoardFeed, run_board_cache
from producer_api.completions import CompletionGuard
from producer_api.hot_reads import HotReads
from producer_api.hotpath import HotRoute
from producer_api.idempotency import IdempotencyStore
from producer_api.ingest import CompleteAction
from producer_api.moderation_commands import ModerationCommands
from producer_api.openapi import openapi_document
from producer_api.queries import LeaderboardQueries
from producer_api.ratelimit import Bucket, ClientIpLimit, RateLimiter
from producer_api.request_ids import RequestIds
from producer_api.services import Services
from producer_api.start_action import StartAction
from producer_api.visibility import VisibilityWait
from projections.history import History
from projections.ledger_pool import ledger_read_pool
from projections.ranking import RedisBoards
from projections.repair import BoardRepair
from projections.review_queue import ReviewQueue
from projections.standings import Standings
from scoreboard.adapters.auth import TokenVerifier
from scoreboard.adapters.autopipe import AutoPipeline
from scoreboard.adapters.change_feed import kafka_consumer
from scoreboard.adapters.kafka_security import aiokafka_config, librdkafka_config
from scoreboard.adapters.publishing import Publisher
from scoreboard.adapters.redis_client import redis_client
from scoreboard.adapters.web.client_address import TrustedProxies
from scoreboard.adapters.web.health import Health
from scoreboard.adapters.web.metrics import HttpMetrics, MetricsMiddleware, process_registry
from scoreboard.adapters.web.problems import EXCEPTION_HANDLERS
from scoreboard.domain.catalog import load_catalog
from scoreboard.domain.clock import Clock, SystemClock
from scoreboard.domain.errors import ConfigurationError
from scoreboard.domain.evidence import EvidenceHasher
from scoreboard.domain.ticket_tokens import TicketKeyring
from scoreboard.runtime.gctuning import collect_less_often
from scoreboard.runtime.stopping import finish, stop_task
from scoreboard.runtime.tracing import tracing_for
from scoreboard.settings import Settings

REDIS_GATHER_TURNS = 2
"""The hot path's Redis commands gather over two turns of the event loop before they are written: fewer,
larger writes and replies per request, for one more loop turn per round trip (docs/benchmarks.md,
"Writes, session 7": less api CPU per request, latency unchanged under load)."""


def ticket_keyring(settings: Settings) -> TicketKeyring:
    if not settings.ticket_secret:
        raise ConfigurationError("no SCOREBOARD_TICKET_SECRET: export one (>= 32 bytes) or run "
                                 "`scoreboard stack up`, which generates dev secrets")
    return TicketKeyring(settings.ticket_secret, settings.ticket_old_secrets)


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Real adapters; nothing connects until used (the pool opens in the lifespan)."""
    verifier = TokenVerifier.from_settings(settings)
    keyring = ticket_keyring(settings)
    catalog = load_catalog(settings.actions_file or None)
    clock = clock or SystemClock()
    publisher = Publisher(settings.kafka_bootstrap, extra_config=librdkafka_config(settings),
                          delivery_timeout_s=settings.produce_timeout_seconds,
                          linger_ms=settings.produce_linger_ms,
                          client_id="scoreboard-api")
    redis = redis_client(settings)
    calls = AutoPipeline.for_client(redis, gather_turns=REDIS_GATHER_TURNS)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
        settings.require_database(), min_size=1, max_size=8, open=False)
    ledger_pool = ledger_read_pool(settings.require_database(), settings.history_statement_timeout_ms)

    tracing = tracing_for(settings, "api")
    log = ActionLog(publisher, settings.event_keyring(), tracing=tracing)
    guard = CompletionGuard(calls)

    def idempotency(scope: str) -> IdempotencyStore:
        return IdempotencyStore(calls, scope=scope, lease_seconds=settings.idempotency_lease_seconds,
                                wait_seconds=settings.idempotency_wait_seconds)

    boards = RedisBoards(redis, settings.top_n)
    reviews = ReviewQueue(pool)
    standings = Standings(pool)
    repair = BoardRepair(pool, redis, boards, standings, clock)
    board_cache = BoardCache(settings.top_n)
    # The api follows the same workers a gateway of its deployment follows (SCOREBOARD_GATEWAY_SOURCES).
    # Without the change signing key it cannot tell a worker's change from a forgery: no feed, and every
    # read goes to Redis as before.
    board_feed = BoardFeed(kafka_consumer(settings.kafka_bootstrap, extra=aiokafka_config(settings)), board_cache,
                           settings.change_keyring(), clock, sources=frozenset(settings.gateway_sources)
                           ) if settings.change_signing_secret else None
    return Services(
        settings=settings,
        verifier=verifier,
        catalog=catalog,
        clock=clock,
        publisher=publisher,
        redis=redis,
        calls=calls,
        pool=pool,
        ledger_pool=ledger_pool,
        boards=boards,
        limiter=RateLimiter(calls),
        user_bucket=Bucket("user", settings.rate_user_per_second, settings.rate_user_burst),
        ip_bucket=Bucket("ip", settings.rate_ip_per_second, settings.rate_ip_burst),
        history_bucket=Bucket("history", settings.rate_history_per_second, settings.rate_history_burst),
        trusted_proxies=TrustedProxies.parse(settings.trusted_proxies),
        guard=guard,
        start=StartAction(catalog, keyring, clock, settings.ticket_ttl_seconds, guard),
        complete=CompleteAction(catalog, log, idempotency("idem"), clock, guard, keyring,
                                settings.ticket_ttl_seconds, EvidenceHasher(settings.ticket_secret)),
        admin=AdminCommands(log, idempotency("admin"), clock),
        reviews=reviews,
        moderation=ModerationCommands(log, reviews, catalog, clock),
        queries=LeaderboardQueries(boards, standings, repair, ledger_pool),
        repair=repair,
        history=History(ledger_pool),
        visibility=VisibilityWait(pool, boards),
        tracing=tracing,
        board_cache=board_cache,
        board_feed=board_feed,
    )


def create_app(services: Services) -> HotRoute:
    metrics = HttpMetrics(process_registry())
    produce_latency = Histogram("scoreboard_kafka_produce_seconds",
                                "time from produce to the broker's acknowledgement",
                                registry=metrics.registry,
                                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30))
    services.publisher.on_acked = metrics.deferred.observer(produce_latency)

    async def kafka_ready() -> bool:
        return await asyncio.to_thread(services.publisher.ping)

    async def postgres_ready() -> bool:
        async with services.pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
        return True

    async def redis_ready() -> bool:
        return bool(await services.redis.ping())

    health = Health({"kafka": kafka_ready, "postgres": postgres_ready, "redis": redis_ready})
    document = openapi_document(services.catalog)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.pool.open(wait=False)
        await services.ledger_pool.open(wait=False)
        cache_task = None
        if services.board_feed is not None:
            cache_task = asyncio.create_task(run_board_cache(services.board_cache, services.board_feed,
                                                             services.boards, services.clock))
        try:
            yield
        finally:
            if cache_task is not None:
                await stop_task(cache_task, "the board cache's feed")
            # each step bounded: a stop always completes (scoreboard.runtime.stopping)
            await finish(services.repair.close(), "the board repair")
            await finish(asyncio.to_thread(services.publisher.close), "the Kafka publisher")
            await finish(services.ledger_pool.close(), "the ledger read pool")
            await finish(services.pool.close(), "the Postgres pool")
            await finish(services.calls.close(), "the Redis pipeline")
            await finish(services.redis.aclose(), "the Redis client")
            await finish(asyncio.to_thread(services.tracing.close), "tracing")

    complete = Route("/v1/actions/{action_id}/complete", routes.complete_action, methods=["POST"])
    board_page = Route("/v1/leaderboards/{board}", query_routes.get_leaderboard, methods=["GET"])
    # Browsers on other origins (the gateway's moderation page) only where SCOREBOARD_ALLOWED_ORIGINS
    # names them; first, so that preflights and refusals carry the headers too.
    cors = [Middleware(CORSMiddleware, allow_origins=list(services.settings.allowed_origins),
                       allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "If-None-Match", "Idempotency-Key"],
                       expose_headers=["ETag", "Retry-After", "X-Request-ID"], max_age=600)
            ] if services.settings.allowed_origins else []
    middleware = [
        *cors,
        Middleware(MetricsMiddleware, metrics=metrics),
        Middleware(ClientIpLimit, limiter=services.limiter, bucket=services.ip_bucket,
                   trusted=services.trusted_proxies),
    ]
    handlers = EXCEPTION_HANDLERS | routes.UNAVAILABLE_HANDLERS
    app = Starlette(
        routes=[
            Route("/v1/actions", routes.list_actions, methods=["GET"]),
            Route("/v1/actions/{action_id}/start", routes.start_action, methods=["POST"]),
            complete,
            board_page,
            Route("/v1/leaderboards/{board}/users/{user_id}", query_routes.get_user_rank, methods=["GET"]),
            Route("/v1/leaderboards/{board}/users/{user_id}/around", query_routes.get_around, methods=["GET"]),
            Route("/v1/me", query_routes.get_me, methods=["GET"]),
            Route("/v1/users/{user_id}/history", query_routes.get_history, methods=["GET"]),
            Route("/v1/admin/users/{user_id}/adjustments", admin_routes.adjust_score, methods=["POST"]),
            Route("/v1/admin/users/{user_id}/ban", admin_routes.ban_user, methods=["POST"]),
            Route("/v1/admin/users/{user_id}/unban", admin_routes.unban_user, methods=["POST"]),
            Route("/v1/admin/users/{user_id}/flag", moderation_routes.flag_user, methods=["POST"]),
            Route("/v1/admin/reviews", moderation_routes.list_reviews, methods=["GET"]),
            Route("/v1/admin/reviews/{user_id}/decision", moderation_routes.decide_review, methods=["POST"]),
            Route("/v1/admin/purges", moderation_routes.purge_action, methods=["POST"]),
            Route("/v1/schemas", schema_routes.list_schemas, methods=["GET"]),
            Route("/v1/schemas/{fingerprint}", schema_routes.get_schema, methods=["GET"]),
            Route("/healthz", health.healthz, methods=["GET"]),
            Route("/readyz", health.readyz, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.services = services

    def wrap(endpoint: ASGIApp) -> ASGIApp:
        for cls, args, kwargs in reversed(middleware):  # the order Starlette stacks them in
            endpoint = cls(endpoint, *args, **kwargs)
        return endpoint

    def outer(inner: ASGIApp) -> ASGIApp:
        # The first page of a live board from memory, in front of everything but the request ids.
        return RequestIds(HotReads(inner, board_page, app, services.board_cache, services.clock, wrap))

    # HotReads answers GETs only: the completion's hot route needs only the request ids around it.
    return HotRoute(app, complete, handlers, wrap, outer=outer, hot_outer=RequestIds)


SERVER_OPTIONS: dict[str, Any] = {"log_level": "warning", "access_log": False, "timeout_graceful_shutdown": 10,
                                  "log_config": None, "proxy_headers": False}
"""How uvicorn serves the api (and, in the benchmark, its baselines). No access log: warnings and
errors are logged as JSON, per-request numbers are in /metrics. ``log_config=None``: uvicorn keeps
its hands off logging, so its loggers reach the JSON handler of ``scoreboard.runtime.logs``.
``proxy_headers=False``: uvicorn would trust ``X-Forwarded-For`` from loopback by itself; which
proxies to trust is ``SCOREBOARD_TRUSTED_PROXIES`` alone (``scoreboard.adapters.web.client_address``)."""


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Run ``app`` the way the api runs (the benchmark serves its baselines with this too)."""
    import uvicorn

    collect_less_often()
    uvicorn.run(app, host=host, port=port, **SERVER_OPTIONS)


def main(settings: Settings | None = None) -> None:
    settings = settings or Settings.from_env()
    serve(create_app(build_services(settings)), settings.api_host, settings.api_port)
