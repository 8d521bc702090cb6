"""Where a rebuild's CPU goes per event: each part a faithful rebuild cannot skip, measured alone on one log.

Run it holding the bench lock (it produces a log into an isolated world, then replays it part by part):

    flock /tmp/bench.lock .venv/bin/python -m bench.rebuild_parts --events 200000

One process, one part at a time, the same records throughout (batches of ``--batch``, as the rebuild
reads them). Each part's CPU is this process's (all threads: librdkafka's too) plus, where the part
talks to a server, that server's: the Kafka broker's JVM, this connection's Postgres backend (with the
postmaster's reaped children: parallel index builds) and the Redis server. Parts:

- ``consume``: the records fetched from Kafka (confluent-kafka, the replay's settings);
- ``records``: ``RawRecord`` built from each message, as the replay's consume loop does;
- ``verify``: each record's signature (``SigningKeyring.verify``) alone;
- ``decode``: each record's Avro body (``codec.decode``) alone;
- ``verify+decode``: ``Pipeline._decode``, what the replay runs (both, plus its checks);
- ``keys``: ``keys_needed`` and ``usage_needed``, what the ledger computes to load a batch;
- ``apply_log``: judging and the outcome, over what the ledger would know (kept in memory here);
- ``copy``: the accepted entries COPY'd into an empty ledger without the deferred indexes, as
  ``Ledger._write`` does, then ``copy+index``: the deferred indexes built again;
- ``ledger``: ``Ledger.apply_batch`` itself (loads, ``apply_log``, every write) into emptied tables;
- ``boards``: ``CoalescedBoards`` fed every batch's standings, then flushed to Redis.

The sum of the first parts is the floor a faithful rebuild pays; 50,000 events/s on two cores leaves
40 µs per event for everything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, Message, TopicPartition
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from bench.scenarios.rebuild import produce_events
from bench.system import RAISED_LIMITS
from devstack.worlds import isolated_world, topic_ends
from projections import rebuild_indexes
from projections.ledger import ENTRY_COLUMNS
from projections.ranking import RedisBoards
from scoreboard.adapters import codec
from scoreboard.adapters.redis_client import redis_client
from scoreboard.domain.detection import PartitionDetectors
from scoreboard.domain.policy import Judge, Usage, UsageKey
from scoreboard.domain.records import ENTRY_FIELDS, BoardUser, Known, LedgerEntry, Positioned, Standing
from scoreboard.domain.scoring import BatchOutcome, apply_log, keys_needed, usage_needed
from scoreboard.domain.topics import ACTIONS
from scoreboard.runtime.gctuning import fewer_collections
from scoreboard.settings import Settings
from stream_app.bootstrap import judge_of, ledger_of
from stream_app.pipeline import Pipeline, RawRecord, header_pairs
from stream_app.rebuild import PROJECTION_TABLES
from stream_app.rebuild_boards import CoalescedBoards
from stream_app.rebuild_workers import NothingPublished, broker_time_us

BUDGET_US = 40.0
"""µs of CPU per event that 50,000 events/s leaves on two cores."""


def _ticks(pid: int) -> tuple[int, int]:
    """(own utime+stime, reaped children's) of ``pid`` in clock ticks (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _pid_of(*needles: str) -> int:
    """The first process whose command line contains every needle (0: none)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if all(needle in cmdline for needle in needles):
                return int(entry.name)
    return 0


@dataclass
class Servers:
    """The pids whose CPU a part is charged with: Kafka's JVM, Redis, the postmaster, our backend."""

    kafka: int = field(default_factory=lambda: _pid_of("java", "kafka"))
    redis: int = field(default_factory=lambda: _pid_of("redis-server"))
    postmaster: int = field(default_factory=lambda: _pid_of("postgres", "-D"))
    backend: int = 0

    def seconds(self) -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        own = resource.getrusage(resource.RUSAGE_SELF)
        backend = _ticks(self.backend)[0] if self.backend else 0
        return {"client": own.ru_utime + own.ru_stime, "kafka": _ticks(self.kafka)[0] / tick,
                "redis": _ticks(self.redis)[0] / tick,
                "postgres": (backend + _ticks(self.postmaster)[1]) / tick}


@dataclass
class Parts:
    """CPU seconds per part and process (summed over every time the part runs), reported per event."""

    events: int
    servers: Servers
    totals: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        before, wall = self.servers.seconds(), time.perf_counter()
        yield
        after, wall = self.servers.seconds(), time.perf_counter() - wall
        total = self.totals.setdefault(name, {"wall": 0.0} | {k: 0.0 for k in after})
        total["wall"] += wall
        for k in after:
            total[k] += after[k] - before[k]

    def add(self, name: str, client_s: float) -> None:
        self.totals.setdefault(name, {"wall": 0.0, "client": 0.0})["client"] += client_s

    def rows(self) -> list[dict[str, Any]]:
        return [{"part": name, "wall_s": round(total["wall"], 3)}
                | {k: round(v * 1e6 / self.events, 2) for k, v in total.items() if k != "wall"}
                for name, total in self.totals.items()]


def consume(settings: Settings, ranges: dict[int, tuple[int, int]], batch: int) -> list[list[Message]]:
    """Every record of ``ranges``, in the batches ``consume`` returns them (the replay's consumer settings)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "scoreboard-rebuild-parts",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "fetch.max.bytes": 104_857_600, "max.partition.fetch.bytes": 16_777_216})
    batches: list[list[Message]] = []
    try:
        consumer.assign([TopicPartition(ACTIONS, p, start) for p, (start, _) in ranges.items()])
        left = sum(end - start for start, end in ranges.values())
        while left > 0:
            messages = [m for m in consumer.consume(batch, 1.0) if not m.error()]
            ends = {p: end for p, (_, end) in ranges.items()}
            mine = [m for m in messages if (m.offset() or 0) < ends.get(m.partition() or 0, 0)]
            if mine:
                batches.append(mine)
                left -= len(mine)
    finally:
        consumer.close()
    return batches


def raw_records(messages: Sequence[Message]) -> list[RawRecord]:
    return [RawRecord(m.key(), m.value(), m.partition() or 0, m.offset() or 0, header_pairs(m.headers()),
                      broker_time_us(m)) for m in messages]


@dataclass
class MemoryLedger:
    """What the ledger would hold after each batch, kept in memory so ``apply_log`` can be timed alone."""

    judge: Judge
    detectors: dict[int, PartitionDetectors] = field(default_factory=dict)
    next_offsets: dict[int, int] = field(default_factory=dict)
    standings: dict[BoardUser, Standing] = field(default_factory=dict)
    usage: dict[UsageKey, Usage] = field(default_factory=dict)
    first_seen: dict[str, int] = field(default_factory=dict)

    def known(self, batch: Sequence[Positioned]) -> Known:
        keys, _ = keys_needed(batch, self.judge)
        users = {p.event.user_id for p in batch}
        return Known(dict(self.next_offsets), {}, {k: self.standings[k] for k in keys if k in self.standings}, {},
                     {}, {k: self.usage[k] for k in usage_needed(batch, self.judge) if k in self.usage}, {},
                     {u: self.first_seen[u] for u in users if u in self.first_seen})

    def partition_detectors(self, batch: Sequence[Positioned]) -> dict[int, PartitionDetectors] | None:
        config = self.judge.detection
        if config is None:
            return None
        for p in {p.partition for p in batch}:
            self.detectors.setdefault(p, PartitionDetectors(config))
        return self.detectors

    def absorb(self, outcome: BatchOutcome) -> None:
        self.next_offsets.update(outcome.next_offsets)
        self.standings.update(outcome.changed)
        self.usage.update(outcome.usage)
        self.first_seen.update(outcome.first_seen)


def _entry_row(e: LedgerEntry) -> tuple[object, ...]:
    return tuple(getattr(e, f) for f in ENTRY_FIELDS)


async def _backend_pid(conn: AsyncConnection) -> int:
    cur = await conn.execute("SELECT pg_backend_pid()")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def _empty(settings: Settings) -> None:
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
        rebuild_indexes.defer(conn)


def _decoded(pipeline: Pipeline, messages: Sequence[Message]) -> list[Positioned]:
    return pipeline._decode(raw_records(messages))[0]  # noqa: SLF001 - the replay's own step


async def _replay_parts(settings: Settings, parts: Parts, pipeline: Pipeline, batches: list[list[Message]]) -> None:
    """Batch by batch, as the replay holds them: each step alone, then the COPY of the accepted entries."""
    keyring, judge = settings.event_keyring(), judge_of(settings)
    memory = MemoryLedger(judge_of(settings))
    _empty(settings)
    async with await AsyncConnection.connect(settings.require_database(), autocommit=True) as conn:
        parts.servers.backend = await _backend_pid(conn)
        for messages in batches:
            with parts.part("records"):
                records = raw_records(messages)
            with parts.part("verify"):
                for r in records:
                    keyring.verify(ACTIONS, r.partition, r.key or b"", r.value or b"", r.headers)
            with parts.part("decode"):
                for r in records:
                    codec.decode(r.value or b"")
            with parts.part("verify+decode"):
                batch = pipeline._decode(records)[0]  # noqa: SLF001 - the replay's own step
            del records
            with parts.part("keys"):
                keys_needed(batch, judge)
                usage_needed(batch, judge)
            known, detectors = memory.known(batch), memory.partition_detectors(batch)
            start = time.process_time()
            outcome = apply_log(batch, known, 0, judge, detectors)
            parts.add("apply_log", time.process_time() - start)
            memory.absorb(outcome)
            with parts.part("copy"):
                async with conn.transaction(), conn.cursor() as cur, \
                        cur.copy(f"COPY ledger ({ENTRY_COLUMNS}) FROM STDIN") as copy:
                    for entry in outcome.accepted:
                        await copy.write_row(_entry_row(entry))
        with parts.part("copy+index"):
            for statement in rebuild_indexes.definitions().values():
                await conn.execute(statement.encode())
    parts.servers.backend = 0


async def _ledger_parts(settings: Settings, parts: Parts, pipeline: Pipeline, batches: list[list[Message]]) -> None:
    """``Ledger.apply_batch`` per batch into emptied tables, then the boards as the replay feeds them."""
    _empty(settings)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(settings.require_database(), min_size=1,
                                                                     max_size=1, open=False)
    await pool.open(wait=True)
    redis = redis_client(settings)
    ledger = ledger_of(pool, settings)
    boards = CoalescedBoards(RedisBoards(redis, settings.top_n))
    try:
        async with pool.connection() as conn:
            parts.servers.backend = await _backend_pid(conn)
        for messages in batches:
            batch = _decoded(pipeline, messages)
            with parts.part("ledger"):
                applied = await ledger.apply_batch(batch, time.time_ns() // 1000)
            with parts.part("boards"):
                per_board: dict[str, list[tuple[str, Standing]]] = {}
                for (board, user_id), standing in applied.standings_to_write().items():
                    per_board.setdefault(board, []).append((user_id, standing))
                for board, pending in sorted(per_board.items()):
                    await boards.apply(board, pending, time.time_ns() // 1000)
        parts.servers.backend = 0
        with parts.part("boards"):
            await boards.flush()
    finally:
        await pool.close()
        await redis.aclose()


def measure(settings: Settings, ranges: dict[int, tuple[int, int]], batch_size: int) -> list[dict[str, Any]]:
    """Every part on the log of ``ranges`` (into the world of ``settings``, whose projections it empties)."""
    events = sum(end - start for start, end in ranges.values())
    parts = Parts(events, Servers())
    with parts.part("consume"):
        batches = consume(settings, ranges, batch_size)
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(settings.require_database(), open=False)
    pipeline = Pipeline(ledger_of(pool, settings), CoalescedBoards(RedisBoards(redis_client(settings), 10)),
                        NothingPublished(), _Clock(), settings.event_keyring(), settings.change_keyring())
    asyncio.run(_replay_parts(settings, parts, pipeline, batches))
    asyncio.run(_ledger_parts(settings, parts, pipeline, batches))
    rows = parts.rows()
    for row in rows:
        print(f"  {row['part']:<14} " + " ".join(f"{k} {v:7.2f}" for k, v in row.items() if k not in ("part", "wall_s"))
              + f"  ({row['wall_s']:.2f} s)", file=sys.stderr)
    return rows


class _Clock:
    def now_us(self) -> int:
        return time.time_ns() // 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=40_000)
    parser.add_argument("--out", type=Path, help="write the parts as JSON here")
    args = parser.parse_args(argv)
    with isolated_world("parts") as world, fewer_collections():
        settings = Settings.from_env(world.env | RAISED_LIMITS)
        produce_events(world.kafka_bootstrap, settings.event_keyring(), args.events, progress=False)
        ends = topic_ends(world.kafka_bootstrap)
        ranges = {p: (world.start_offsets.get(p, 0), end) for p, end in ends.items()}
        print(f"{sum(e - s for s, e in ranges.values())} events; µs per event:", file=sys.stderr)
        rows = measure(settings, ranges, args.batch)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
