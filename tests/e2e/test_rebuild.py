"""Invariant 4: the projections are a deterministic function of the log."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from devstack.worlds import isolated_world
from scoreboard.domain.catalog import DEFAULT_CATALOG, load_catalog
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import ActionCompleted, LogEvent
from scoreboard.settings import Settings
from stream_app.rebuild import rebuild
from testkit.system import System
from testkit.waits import wait_until
from tests.support.inspect import ledger_count, snapshot, wait_redis_caught_up
from tests.support.reference import Reference
from tests.support.suite import LOAD_ENV
from tests.support.workload import mixed_log, produce

pytestmark = pytest.mark.e2e
SHIPPED = load_catalog(DEFAULT_CATALOG)
START = to_micros(datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))


def test_a_rebuild_from_the_log_equals_the_live_projections() -> None:
    """Live worker over actions, duplicates, adjustments and bans; then drop and rebuild: identical
    ledger, standings (scores, seqs, tie times, visibility), bans, rejections and Redis rank order."""
    events = mixed_log(3000, 150, start_us=START, seed=5)
    reference = Reference().apply(events)
    with isolated_world() as world:
        system = System(world, world.env | LOAD_ENV)
        system.start("worker")
        try:
            asyncio.run(produce(world.kafka_bootstrap, events, chunk=500))
            wait_until(lambda: ledger_count(world.database_url, reference.users) == reference.counted,
                       timeout_s=120, what="the live worker applied everything\n" + system.logs())
            wait_redis_caught_up(world.database_url, world.redis_url, reference.users)  # Redis follows the commit
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


def farming_log(users: int, start_us: int, hours: int = 2, step_s: int = 30) -> list[LogEvent]:
    """Every user completes an action every ``step_s`` for ``hours``, cycling through the shipped
    catalog's plain actions: far beyond its cooldowns, daily caps and hourly budget."""
    run = uuid.uuid4().hex[:6]
    cycle = ("win-match", "complete-level", "daily-login")
    events: list[LogEvent] = []
    for step in range(hours * 3600 // step_s):
        for u in range(users):
            action = SHIPPED.actions[cycle[(step + u) % len(cycle)]]
            user = f"farm{u}-{run}"
            events.append(ActionCompleted(str(uuid.uuid4()), user, action.action_id, f"n-{uuid.uuid4().hex}",
                                          action.points, SHIPPED.version, start_us + step * step_s * 1_000_000 + u))
    return events


def decided(database_url: str, users: set[str]) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM ledger WHERE user_id = ANY(%s))"
                           " + (SELECT count(*) FROM rejections WHERE user_id = ANY(%s))",
                           (sorted(users), sorted(users))).fetchone()
    return int(row[0]) if row else 0


def test_a_rebuild_reproduces_the_policy_decisions() -> None:
    """Farming bots against the shipped catalog: the live worker accepts a few and rejects the rest
    for cooldowns, caps and budgets; a rebuild from the log decides every event the same way."""
    events = farming_log(4, START - 3 * 3600 * 1_000_000)
    users = {e.user_id for e in events}
    env = {"SCOREBOARD_ACTIONS_FILE": str(DEFAULT_CATALOG)}
    with isolated_world() as world:
        system = System(world, world.env | env)
        system.start("worker")
        try:
            asyncio.run(produce(world.kafka_bootstrap, events, chunk=500))
            wait_until(lambda: decided(world.database_url, users) == len(events), timeout_s=120,
                       what="the live worker decided everything\n" + system.logs())
            wait_redis_caught_up(world.database_url, world.redis_url, users)  # Redis follows the commit
            live = snapshot(world.database_url, world.redis_url, users)
        finally:
            system.stop_all()
        codes = {str(reason).split(":")[0] for _, _, reason in live["rejected"]}  # type: ignore[attr-defined]
        assert codes == {"cooldown", "cap", "budget"}, codes
        asyncio.run(rebuild(Settings.from_env(world.env | env), start_offsets=world.start_offsets, progress=False))
        rebuilt = snapshot(world.database_url, world.redis_url, users)
    assert rebuilt == live
