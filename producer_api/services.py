"""The api's adapters and use cases as the handlers find them (``request.app.state.services``).

Built by ``producer_api.bootstrap.build_services``; tests build one with fakes or real services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from producer_api.admin_commands import AdminCommands
from producer_api.board_cache import BoardCache
from producer_api.completions import CompletionGuard
from producer_api.ingest import CompleteAction
from producer_api.moderation_commands import ModerationCommands
from producer_api.queries import LeaderboardQueries
from producer_api.ratelimit import Bucket, RateLimiter
from producer_api.start_action import StartAction
from producer_api.visibility import VisibilityWait
from projections.history import History
from projections.ranking import RedisBoards
from projections.repair import BoardRepair
from projections.review_queue import ReviewQueue
from scoreboard.adapters.auth import TokenVerifier
from scoreboard.adapters.autopipe import AutoPipeline
from scoreboard.adapters.change_feed import ChangeFeed
from scoreboard.adapters.publishing import Publisher
from scoreboard.adapters.tracing import Tracing
from scoreboard.adapters.web.client_address import TrustedProxies
from scoreboard.domain.catalog import Catalog
from scoreboard.domain.clock import Clock
from scoreboard.settings import Settings


@dataclass
class Services:
    settings: Settings
    verifier: TokenVerifier
    catalog: Catalog
    clock: Clock
    publisher: Publisher
    redis: Redis
    calls: AutoPipeline
    """The hot path's Redis commands (rate limits, idempotency, guards), auto-pipelined."""
    pool: AsyncConnectionPool[AsyncConnection]
    ledger_pool: AsyncConnectionPool[AsyncConnection]
    """``?as_of=`` and history reads only: a few connections, each statement time-bounded."""
    boards: RedisBoards
    limiter: RateLimiter
    user_bucket: Bucket
    ip_bucket: Bucket
    history_bucket: Bucket
    """Per client IP, for ``?as_of=`` and history reads."""
    trusted_proxies: TrustedProxies
    guard: CompletionGuard
    """Cooldowns, caps, budgets, tickets, and the count of a user's refused attempts."""
    start: StartAction
    complete: CompleteAction
    admin: AdminCommands
    reviews: ReviewQueue
    moderation: ModerationCommands
    queries: LeaderboardQueries
    repair: BoardRepair
    history: History
    visibility: VisibilityWait
    tracing: Tracing = field(default_factory=Tracing)
    """Off unless an OTLP endpoint is configured (``scoreboard.runtime.tracing``)."""
    board_cache: BoardCache = field(default_factory=BoardCache)
    """First pages of the live boards in memory (``producer_api.board_cache``); empty without a feed."""
    board_feed: ChangeFeed | None = None
    """Keeps ``board_cache`` (``producer_api.board_feed``), run by the lifespan; None: never filled."""
