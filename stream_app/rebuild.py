"""``scoreboard rebuild``: drop the Postgres and Redis projections and replay the log into them.

Stop the workers first (the command refuses while the worker group has live members, unless
``--force``). It reads ``scoreboard.actions.v1`` from the start to the end offsets it saw when it
began, through the same pipeline code as the live worker but without re-announcing ScoreChanged;
at the end it publishes each board's top N so gateways show the rebuilt state. Workers restarted
afterwards resume from their committed offsets; what they see again is recognised as a replay.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis
from tqdm import tqdm

from projections.ledger import Ledger
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
from stream_app.agent import process_isolating_poison
from stream_app.bootstrap import judge_of
from stream_app.pipeline import Pipeline, RawRecord, header_pairs

log = logging.getLogger(__name__)
PROJECTION_TABLES = ("ledger", "board_scores", "user_status", "ban_history", "rejections", "log_positions",
                     "usage_counters")


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
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")


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


def broker_time_us(message: Message) -> int:
    """The record's Kafka timestamp in microseconds (0 when it has none)."""
    kind, millis = message.timestamp()
    return millis * 1000 if kind != TIMESTAMP_NOT_AVAILABLE and millis > 0 else 0


def _end_offsets(consumer: Consumer) -> dict[int, int]:
    return end_offsets(consumer, ACTIONS)


async def rebuild(settings: Settings, *, start_offsets: Mapping[int, int] | None = None,
                  batch_size: int = 40000, progress: bool = True) -> RebuildReport:
    """Drop the projections and replay the log (from ``start_offsets``, default the beginning).

    Large batches pay off: a user's standings are read once per batch however often the user
    appears in it (the default's measurement: the last row of "What changed, in order, each
    measured" in docs/benchmarks.md).
    """
    with fewer_collections():
        return await _rebuild(settings, start_offsets, batch_size, progress)


async def _rebuild(settings: Settings, start_offsets: Mapping[int, int] | None, batch_size: int,
                   progress: bool) -> RebuildReport:
    drop_projections(settings)
    redis = redis_client(settings)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(settings.require_database(), min_size=1,
                                                                     max_size=2, open=False)
    publisher = Publisher(settings.kafka_bootstrap, client_id="scoreboard-rebuild",
                          extra_config=librdkafka_config(settings))
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "scoreboard-rebuild",
                         **librdkafka_config(settings),
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    started = time.perf_counter()
    try:
        await _drop_redis_boards(redis)
        await pool.open(wait=True)
        boards = RedisBoards(redis, settings.top_n)
        pipeline = Pipeline(Ledger(pool, judge_of(settings)), boards, publisher, SystemClock(),
                            settings.event_keyring(), settings.change_keyring(),
                            source=f"/scoreboard/rebuild/{settings.worker_id}")
        ends = _end_offsets(consumer)
        starts = {p: (start_offsets or {}).get(p, 0) for p in ends}
        total = sum(max(0, ends[p] - starts[p]) for p in ends)
        consumer.assign([TopicPartition(ACTIONS, p, starts[p]) for p in ends if ends[p] > starts[p]])
        remaining = {p for p in ends if ends[p] > starts[p]}
        done = 0
        bar = tqdm(total=total, unit="ev", disable=not progress, file=sys.stderr, desc="rebuild")
        def fetch() -> asyncio.Task[list[Message]]:
            return asyncio.create_task(asyncio.to_thread(consumer.consume, batch_size, 1.0))

        fetching: asyncio.Task[list[Message]] | None = fetch()
        while remaining and fetching is not None:
            messages = await fetching
            if not messages:  # nothing came: the ends may sit on gaps, ask where we are
                positions = consumer.position([TopicPartition(ACTIONS, p) for p in remaining])
                remaining -= {tp.partition for tp in positions if tp.offset >= ends[tp.partition]}
                fetching = fetch() if remaining else None
                continue
            records = []
            for message in messages:
                partition, offset = message.partition(), message.offset()
                if message.error() or partition is None or offset is None or partition not in remaining:
                    continue
                if offset >= ends[partition]:
                    continue
                records.append(RawRecord(message.key(), message.value(), partition, offset,
                                         header_pairs(message.headers()), broker_time_us(message)))
                if offset >= ends[partition] - 1:
                    remaining.discard(partition)
            # the next batch is fetched (in C, off the event loop) while this one is applied
            fetching = fetch() if remaining else None
            if records:
                await process_isolating_poison(partial(pipeline.process, announce=False),
                                               partial(pipeline.set_aside, announce=False), records)
                done += len(records)
                bar.update(len(records))
        if fetching is not None:
            await fetching
        bar.close()
        touched = await _boards_in_redis(redis)
        await pipeline.announce_boards(sorted(touched))
        return RebuildReport(done, time.perf_counter() - started, len(touched))
    finally:
        consumer.close()
        publisher.close()
        await pool.close()
        await redis.aclose()


def main(settings: Settings | None = None, force: bool = False) -> int:
    settings = settings or Settings.from_env()
    if not force:
        ensure_workers_stopped(settings)
    report = asyncio.run(rebuild(settings))
    print(f"rebuilt {report.events} events into {report.boards} boards in {report.seconds:.1f} s "
          f"({report.events_per_second:,.0f} events/s)")
    return 0
