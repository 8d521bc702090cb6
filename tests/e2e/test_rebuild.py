"""Invariant 4: the projections are a deterministic function of the log."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import psycopg
import pytest

from scoreboard.clock import to_micros
from scoreboard.settings import Settings
from stream_app.rebuild import rebuild
from tests.support.inspect import ledger_count, redis_order
from tests.support.polling import wait_until
from tests.support.processes import LOAD_ENV, System
from tests.support.reference import Reference
from tests.support.workload import mixed_log, produce
from scoreboard.stack.worlds import isolated_world

pytestmark = pytest.mark.e2e
START = to_micros(datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))


def snapshot(database_url: str, redis_url: str, users: set[str]) -> dict[str, object]:
    with psycopg.connect(database_url) as conn:
        standings = conn.execute(
            "SELECT board, user_id, score, seq, reached_at_us, visible FROM board_scores"
            " WHERE user_id = ANY(%s) ORDER BY board, user_id", (sorted(users),)).fetchall()
        ledger = conn.execute(
            "SELECT event_id, user_id, nonce, action_id, points, total_after, kafka_partition, kafka_offset"
            " FROM ledger WHERE user_id = ANY(%s) ORDER BY event_id", (sorted(users),)).fetchall()
        statuses = conn.execute("SELECT user_id, banned, event_id FROM user_status WHERE user_id = ANY(%s)"
                                " ORDER BY user_id", (sorted(users),)).fetchall()
        rejected = conn.execute("SELECT kafka_partition, kafka_offset, reason FROM rejections"
                                " WHERE user_id = ANY(%s) ORDER BY 1, 2", (sorted(users),)).fetchall()
    boards = sorted({row[0] for row in standings})
    return {"standings": standings, "ledger": ledger, "statuses": statuses, "rejected": rejected,
            "redis": {board: redis_order(redis_url, board, users) for board in boards}}


def test_a_rebuild_from_the_log_equals_the_live_projections() -> None:
    """Live worker over actions, duplicates, adjustments and bans; then drop and rebuild: identical
    ledger, standings (scores, seqs, tie times, visibility), bans, rejections and Redis rank order."""
    events = mixed_log(3000, 150, start_us=START, seed=5)
    reference = Reference().apply(events)
    with isolated_world() as world:
        system = System(world, "", "", world.env | LOAD_ENV)
        system.start("worker")
        try:
            asyncio.run(produce(world.kafka_bootstrap, events, chunk=500))
            wait_until(lambda: ledger_count(world.database_url, reference.users) == reference.counted,
                       timeout_s=120, what="the live worker applied everything\n" + system.logs())
            live = snapshot(world.database_url, world.redis_url, reference.users)
        finally:
            system.stop_all()
        assert live["redis"]["global"] == reference.top("global")  # type: ignore[index]
        started = time.perf_counter()
        report = asyncio.run(rebuild(Settings.from_env(world.env | LOAD_ENV), start_offsets=world.start_offsets,
                                     progress=False))
        assert report.events >= len(events)
        rebuilt = snapshot(world.database_url, world.redis_url, reference.users)
        print(f"\nrebuild: {report.events} events in {time.perf_counter() - started:.1f}s")
    assert rebuilt == live
