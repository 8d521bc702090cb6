"""The replay of a rebuild, one share of the actions topic's partitions per process.

Each partition is independent: its events are applied in log order, the ledger tracks its applied
position in its own row, its detectors see only its actions, and its users (the record key is the
user, and the api picks the partition from the key) are nobody else's, so their Postgres rows and
their Redis standings are touched by its process alone. Replaying disjoint sets of partitions in
parallel processes is therefore what several live workers sharing the group do, and gives the same
projections as one process replaying them all (``tests/e2e/test_rebuild_parallel.py``). Every
record is still verified and judged by the same ``Pipeline`` code as the live worker's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, Message, TopicPartition
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.ranking import RedisBoards
from scoreboard.adapters.kafka_security import librdkafka_config
from scoreboard.adapters.redis_client import redis_client
from scoreboard.domain.clock import SystemClock
from scoreboard.domain.topics import ACTIONS
from scoreboard.runtime.gctuning import fewer_collections
from scoreboard.settings import Settings
from stream_app.agent import process_isolating_poison
from stream_app.bootstrap import ledger_of
from stream_app.pipeline import Pipeline, RawRecord, header_pairs
from stream_app.ports import ChangeRecord
from stream_app.rebuild_boards import CoalescedBoards


@dataclass(frozen=True)
class Share:
    """The partitions one replay process applies: each from its start to its end offset (exclusive)."""

    ranges: Mapping[int, tuple[int, int]]

    @property
    def events(self) -> int:
        return sum(end - start for start, end in self.ranges.values())


def plan_shares(ranges: Mapping[int, tuple[int, int]], workers: int) -> list[Share]:
    """Split the partitions with something to replay into at most ``workers`` shares of about equal
    events (the largest partition first, each to the share with the fewest events so far)."""
    todo = sorted(((end - start, p) for p, (start, end) in ranges.items() if end > start), reverse=True)
    count = max(1, min(workers, len(todo)))
    loads = [0] * count
    parts: list[dict[int, tuple[int, int]]] = [{} for _ in range(count)]
    for size, partition in todo:
        lightest = loads.index(min(loads))
        loads[lightest] += size
        parts[lightest][partition] = ranges[partition]
    return [Share(part) for part in parts if part]


class NothingPublished:
    """The replay's publisher: a rebuild's batches announce nothing (``announce=False``), so any
    attempt to publish is a bug, not something to send."""

    async def publish(self, topic: str, key: str, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        raise RuntimeError(f"a rebuild replay publishes nothing (tried {topic})")

    async def publish_many(self, records: Sequence[ChangeRecord]) -> None:
        raise RuntimeError("a rebuild replay publishes nothing")


def broker_time_us(message: Message) -> int:
    """The record's Kafka timestamp in microseconds (0 when it has none)."""
    kind, millis = message.timestamp()
    return millis * 1000 if kind != TIMESTAMP_NOT_AVAILABLE and millis > 0 else 0


def replay_share(settings: Settings, share: Share, batch_size: int) -> int:
    """A process's entry point: replay ``share`` into the (already emptied) projections; returns the
    records applied."""
    with fewer_collections():
        return asyncio.run(replay(settings, share, batch_size))


async def replay(settings: Settings, share: Share, batch_size: int,
                 applied: list[int] | None = None) -> int:
    """Apply every record of ``share`` in log order, batch by batch, announcing nothing; the boards
    are written once per ``CoalescedBoards`` flush. ``applied`` (one counter) is kept up to date for
    a progress bar in the same process."""
    redis = redis_client(settings)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(settings.require_database(), min_size=1,
                                                                     max_size=2, open=False)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "scoreboard-rebuild",
                         **librdkafka_config(settings),
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "fetch.max.bytes": 104_857_600, "max.partition.fetch.bytes": 16_777_216})
    counter = applied if applied is not None else [0]
    try:
        await pool.open(wait=True)
        boards = CoalescedBoards(RedisBoards(redis, settings.top_n))
        pipeline = Pipeline(ledger_of(pool, settings), boards, NothingPublished(), SystemClock(),
                            settings.event_keyring(), settings.change_keyring(),
                            source=f"/scoreboard/rebuild/{settings.worker_id}")
        ends = {p: end for p, (_, end) in share.ranges.items()}
        consumer.assign([TopicPartition(ACTIONS, p, start) for p, (start, _) in share.ranges.items()])
        remaining = set(ends)

        def fetch() -> asyncio.Task[list[Message]]:
            return asyncio.create_task(asyncio.to_thread(consumer.consume, batch_size, 1.0))

        fetching: asyncio.Task[list[Message]] | None = fetch() if remaining else None
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
                counter[0] += len(records)
        if fetching is not None:
            await fetching
        await boards.flush()
        return counter[0]
    finally:
        consumer.close()
        await pool.close()
        await redis.aclose()
