"""Composition root of the worker process. Run it with ``scoreboard worker``.

Several workers share the consumer group ``SCOREBOARD_WORKER_ID``; Kafka spreads the partitions of
the actions topic (keyed by user) across them.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import faust
import uvloop
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.ledger import Ledger
from projections.ranking import RedisBoards
from scoreboard.adapters.kafka_security import faust_credentials, librdkafka_config
from scoreboard.adapters.publishing import Publisher
from scoreboard.adapters.redis_client import redis_client
from scoreboard.domain.catalog import load_catalogs
from scoreboard.domain.clock import SystemClock
from scoreboard.domain.policy import Judge
from scoreboard.domain.topics import ACTIONS
from scoreboard.runtime.gctuning import collect_less_often
from scoreboard.runtime.tracing import tracing_for
from scoreboard.settings import Settings
from stream_app.agent import attach_agent
from stream_app.chaos import CrashPlan
from stream_app.fetching import use_short_fetch_wait
from stream_app.lag import attach_lag_timer
from stream_app.observability import WorkerMetrics, attach_endpoints
from stream_app.pipeline import Pipeline

log = logging.getLogger(__name__)


def judge_of(settings: Settings) -> Judge:
    """The catalog policy the worker (and a rebuild) judges every event by."""
    catalogs = load_catalogs(settings.actions_file or None, settings.catalog_history_dir or None)
    return Judge(catalogs, int(settings.max_clock_skew_seconds * 1_000_000))


def ledger_of(pool: AsyncConnectionPool[AsyncConnection], settings: Settings) -> Ledger:
    """The ledger with the catalog's policy and its detectors (the worker's and a rebuild's)."""
    judge = judge_of(settings)
    return Ledger(pool, judge, judge.detection)


def create_worker_app(settings: Settings) -> faust.App:
    # faust's own folder (its tables live in memory here): under the temp dir, not the working directory
    datadir = Path(tempfile.gettempdir()) / "scoreboard-worker" / f"{settings.worker_id}-data"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        processing_guarantee="at_least_once",
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        broker_session_timeout=settings.worker_session_timeout_seconds,
        broker_heartbeat_interval=max(0.5, settings.worker_session_timeout_seconds / 4),
        broker_rebalance_timeout=max(10.0, settings.worker_session_timeout_seconds * 2),
        consumer_group_instance_id=settings.worker_instance_id or None,
        topic_replication_factor=1,
        store="memory://",
        datadir=datadir,
        web_enabled=True,
        web_port=settings.worker_port,
        web_bind=settings.worker_host,
        web_host=settings.worker_host,
        autodiscover=False,
    )
    use_short_fetch_wait(app)
    topic = app.topic(ACTIONS, value_type=bytes, key_type=bytes, value_serializer="raw",
                      key_serializer="raw", internal=False)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
        settings.require_database(), min_size=1, max_size=4, open=False)
    redis = redis_client(settings)
    publisher = Publisher(settings.kafka_bootstrap, extra_config=librdkafka_config(settings),
                          delivery_timeout_s=settings.produce_timeout_seconds,
                          linger_ms=settings.produce_linger_ms,
                          client_id=f"{settings.worker_id}-out")
    pipeline = Pipeline(ledger_of(pool, settings), RedisBoards(redis, settings.top_n), publisher, SystemClock(),
                        settings.event_keyring(), settings.change_keyring(),
                        source=f"/scoreboard/worker/{settings.worker_id}", crash_plan=CrashPlan.from_env(),
                        tracing=tracing_for(settings, "worker"))

    async def open_pool() -> None:
        await pool.open(wait=True, timeout=60)

    metrics = WorkerMetrics()
    attach_agent(app, topic, pipeline, settings.batch_size, settings.batch_wait_seconds, open_pool, metrics)
    attach_lag_timer(app, ACTIONS, metrics)

    async def postgres_ready() -> bool:
        async with pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
        return True

    async def redis_ready() -> bool:
        return bool(await redis.ping())

    async def kafka_ready() -> bool:
        return await asyncio.to_thread(publisher.ping)

    attach_endpoints(app, metrics, {"kafka": kafka_ready, "postgres": postgres_ready, "redis": redis_ready})

    return app


def create_worker(app: faust.App) -> faust.Worker:
    """Faust's worker for ``app``. Logging stays as ``scoreboard.runtime.logs.configure`` set it (one
    JSON handler): Faust's own set-up would add a plain-text handler on stdout and print every line
    twice. No progress spinner: it writes terminal escape codes into the log stream."""
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False)
    worker.spinner = None
    return worker


def main(settings: Settings | None = None) -> None:
    settings = settings or Settings.from_env()
    # Every loop of the process runs on uvloop (the agent's, and the Kafka consumer's thread that Faust
    # starts): asyncio's own loop, in Python, was about a quarter of the worker's profile; uvloop's is C
    # (docs/benchmarks.md, "The worker's CPU per action, and a 1.5 s fetch stall").
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    worker = create_worker(create_worker_app(settings))
    collect_less_often()
    worker.execute_from_commandline()
