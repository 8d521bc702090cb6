"""``scoreboard rebuild``: drop the Postgres and Redis projections and replay the log into them.

Stop the workers first (the command refuses while the worker group has live members, unless
``--force``). It reads ``scoreboard.actions.v1`` from the start to the end offsets it saw when it
began, through the same pipeline code as the live worker but without re-announcing ScoreChanged,
the partitions shared among one process per core (``stream_app.rebuild_workers``); at the end it
publishes each board's top N so gateways show the rebuilt state. Workers restarted
afterwards resume from their committed offsets; what they see again is recognised as a replay.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis
from tqdm import tqdm

from projections import rebuild_indexes
from projections.ranking import RedisBoards, board_of_key
from scoreboard.adapters.kafka_retry import end_offsets, group_not_found, retry_kafka
from scoreboard.adapters.kafka_security import librdkafka_config
from scoreboard.adapters.publishing import Publisher
from scoreboard.adapters.redis_client import redis_client
from scoreboard.domain.clock import SystemClock
from scoreboard.domain.errors import ScoreboardError
from scoreboard.domain.topics import ACTIONS
from scoreboard.runtime.gctuning import fewer_collections
from scoreboard.settings import Settings
from stream_app.bootstrap import ledger_of
from stream_app.pipeline import Pipeline
from stream_app.rebuild_workers import Share, plan_shares, replay, replay_share

log = logging.getLogger(__name__)
PROJECTION_TABLES = ("ledger", "board_scores", "user_status", "ban_history", "rejections", "log_positions",
                     "usage_counters", "user_profiles", "reviews", "moderation_changes")


class WorkersStillRunning(ScoreboardError):
    """The worker group has live members; a rebuild would race with them."""


@dataclass(frozen=True)
class RebuildReport:
    events: int
    seconds: float
    boards: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def ensure_workers_stopped(settings: Settings) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **librdkafka_config(settings)})

    def describe() -> Any:
        futures = admin.describe_consumer_groups([settings.worker_id], request_timeout=10)
        return futures[settings.worker_id].result()

    try:
        description = retry_kafka(describe, what=f"describe consumer group {settings.worker_id}")
    except KafkaException as exc:
        if group_not_found(exc):
            return  # the group does not exist: nothing runs
        raise  # a coordinator that stays away is no proof that the workers are stopped
    if description.members:
        raise WorkersStillRunning(
            f"consumer group {settings.worker_id!r} has {len(description.members)} live member(s): "
            "stop the workers first (or pass --force)")


def drop_projections(settings: Settings) -> None:
    """Empty the projection tables and drop the indexes the replay builds at the end
    (``projections.rebuild_indexes``)."""
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
        rebuild_indexes.defer(conn)


def restore_indexes(settings: Settings) -> None:
    """Create the indexes ``drop_projections`` dropped (whichever are missing)."""
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        rebuild_indexes.restore(conn)


async def _drop_redis_boards(redis: Redis) -> int:
    """Delete the boards' keys (``projections.ranking.BOARD_KEY_SUFFIXES``) and nothing else: the api's
    per-user keys in the same ``sb:{...}`` form (limits, cooldowns, caps, tickets, idempotency keys) and
    the rate limits ``sb:rl:...`` are not projections of the log and must survive a rebuild."""
    doomed = [key async for key in redis.scan_iter(match="sb:{*}:*", count=1000) if board_of_key(key)]
    for start in range(0, len(doomed), 500):
        await redis.unlink(*doomed[start:start + 500])
    return len(doomed)


async def _boards_in_redis(redis: Redis) -> set[str]:
    """The boards that have a version key (whatever else shares the ``sb:{*}:v`` pattern is skipped)."""
    return {board async for key in redis.scan_iter(match="sb:{*}:v", count=1000)
            if (board := board_of_key(key)) is not None}


def _end_offsets(consumer: Consumer) -> dict[int, int]:
    return end_offsets(consumer, ACTIONS)


def default_workers() -> int:
    """One replay process per core, and one more: each waits for Postgres part of the time (on two
    cores, three measured faster than two and than four or six: docs/benchmarks.md)."""
    return (os.cpu_count() or 1) + 1


async def rebuild(settings: Settings, *, start_offsets: Mapping[int, int] | None = None,
                  batch_size: int = 40000, progress: bool = True, workers: int | None = None) -> RebuildReport:
    """Drop the projections and replay the log (from ``start_offsets``, default the beginning).

    The partitions are replayed by ``workers`` processes (default: ``default_workers``), each its own
    share of them (``stream_app.rebuild_workers``); with one, in this process. Large batches pay
    off: a user's standings are read once per batch however often the user appears in it (the
    default's measurement: the last row of "What changed, in order, each measured" in
    docs/benchmarks.md).
    """
    with fewer_collections():
        return await _rebuild(settings, start_offsets, batch_size, progress,
                              default_workers() if workers is None else workers)


async def _rebuild(settings: Settings, start_offsets: Mapping[int, int] | None, batch_size: int,
                   progress: bool, workers: int) -> RebuildReport:
    drop_projections(settings)
    redis = redis_client(settings)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(settings.require_database(), min_size=1,
                                                                     max_size=1, open=False)
    publisher = Publisher(settings.kafka_bootstrap, client_id="scoreboard-rebuild",
                          extra_config=librdkafka_config(settings))
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "scoreboard-rebuild",
                         **librdkafka_config(settings), "enable.auto.commit": False})
    started = time.perf_counter()
    try:
        await _drop_redis_boards(redis)
        await pool.open(wait=True)
        ends = _end_offsets(consumer)
        ranges = {p: ((start_offsets or {}).get(p, 0), end) for p, end in ends.items()}
        shares = plan_shares(ranges, workers)
        bar = tqdm(total=sum(share.events for share in shares), unit="ev", disable=not progress,
                   file=sys.stderr, desc="rebuild")
        try:
            if len(shares) == 1:
                done = await _replay_here(settings, shares[0], batch_size, bar)
            else:
                done = await _replay_in_processes(settings, shares, batch_size, bar, pool)
        finally:
            bar.close()
        await asyncio.to_thread(restore_indexes, settings)  # part of the rebuild's time
        touched = await _boards_in_redis(redis)
        pipeline = Pipeline(ledger_of(pool, settings), RedisBoards(redis, settings.top_n), publisher, SystemClock(),
                            settings.event_keyring(), settings.change_keyring(),
                            source=f"/scoreboard/rebuild/{settings.worker_id}")
        await pipeline.announce_boards(sorted(touched))
        return RebuildReport(done, time.perf_counter() - started, len(touched))
    finally:
        try:  # a no-op after a replay that ended; after a failure the schema is whole again
            restore_indexes(settings)
        except psycopg.Error:  # the rebuild's own error, if any, is the one to see
            log.exception("could not restore the ledger's deferred indexes (the next rebuild will)")
        consumer.close()
        publisher.close()
        await pool.close()
        await redis.aclose()


async def _replay_here(settings: Settings, share: Share, batch_size: int, bar: tqdm[Any]) -> int:
    applied = [0]
    replaying = asyncio.create_task(replay(settings, share, batch_size, applied))
    while not replaying.done():
        await asyncio.wait([replaying], timeout=0.5)
        bar.update(applied[0] - bar.n)
    return replaying.result()


async def _replay_in_processes(settings: Settings, shares: list[Share], batch_size: int, bar: tqdm[Any],
                               pool: AsyncConnectionPool[AsyncConnection]) -> int:
    """Each share in its own (spawned: no inherited client sockets or threads) process; the progress
    is read from the ledger's applied positions."""
    loop = asyncio.get_running_loop()
    starts = {p: start for share in shares for p, (start, _) in share.ranges.items()}
    with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("spawn")) as processes:
        replaying = [loop.run_in_executor(processes, replay_share, settings, share, batch_size) for share in shares]
        waiting = asyncio.gather(*replaying)
        while not waiting.done():
            await asyncio.wait([waiting], timeout=1.0)
            bar.update(await _applied_since(pool, starts) - bar.n)
        counts = waiting.result()
    return sum(counts)


async def _applied_since(pool: AsyncConnectionPool[AsyncConnection], starts: Mapping[int, int]) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT kafka_partition, next_offset FROM log_positions")
        return sum(max(0, offset - starts.get(partition, offset)) for partition, offset in await cur.fetchall())


def main(settings: Settings | None = None, force: bool = False, workers: int | None = None) -> int:
    settings = settings or Settings.from_env()
    if not force:
        ensure_workers_stopped(settings)
    report = asyncio.run(rebuild(settings, workers=workers))
    print(f"rebuilt {report.events} events into {report.boards} boards in {report.seconds:.1f} s "
          f"({report.events_per_second:,.0f} events/s)")
    return 0
