"""The live worker's detectors flag a script among humans; decisions and a purge follow; a rebuild from
the log reproduces every flag, hold, decision and void (issue 14: "same flags after a rebuild")."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from devstack.worlds import isolated_world
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import ActionCompleted, ActionsPurged, LogEvent, ReviewDecided
from scoreboard.settings import Settings
from stream_app.rebuild import rebuild
from testkit.system import System
from testkit.waits import wait_until
from tests.support.inspect import snapshot, wait_redis_caught_up
from tests.support.suite import LOAD_ENV, TEST_CATALOG
from tests.support.workload import CATALOG

pytestmark = pytest.mark.e2e
START = to_micros(datetime(2026, 11, 28, 9, tzinfo=UTC))
S = 1_000_000
OFF = "[detection]\nenabled = false\n"


def detecting_catalog(folder: Path) -> Path:
    """The tests' catalog with the detectors on, at their shipped defaults."""
    text = TEST_CATALOG.read_text()
    assert OFF in text
    path = folder / "detecting.toml"
    path.write_text(text.replace(OFF, "[detection]\nenabled = true\n"))
    return path


def completed(user: str, action_id: str, at: int) -> ActionCompleted:
    action = CATALOG.actions[action_id]
    return ActionCompleted(str(uuid.uuid4()), user, action_id, f"n-{uuid.uuid4().hex}", action.points, CATALOG.version,
                           at)


def log_of(run: str) -> tuple[list[LogEvent], list[str], list[str]]:
    """Twenty humans (log-normal gaps) and three scripts (every 30 s, to the microsecond) over an hour."""
    rng = random.Random(11)
    timed: list[tuple[int, ActionCompleted]] = []
    humans = [f"human{i}-{run}" for i in range(20)]
    scripts = [f"script{i}-{run}" for i in range(3)]
    for user in humans:
        at = START + rng.randrange(60 * S)
        for step in range(18):
            at += int(rng.lognormvariate(4.0, 0.9) * S)
            timed.append((at, completed(user, "win-match" if step % 9 == 0 else "complete-level", at)))
    for i, user in enumerate(scripts):
        for step in range(30):
            at = START + i * S + step * 30 * S
            timed.append((at, completed(user, "complete-level", at)))
    events: list[LogEvent] = [e for _, e in sorted(timed, key=lambda pair: pair[0])]
    return events, humans, scripts


def reviews_of(database_url: str, users: list[str]) -> dict[str, tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT DISTINCT ON (user_id) user_id, detector, state FROM reviews"
                            " WHERE user_id = ANY(%s) ORDER BY user_id, kafka_offset DESC", (users,)).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def applied_up_to(database_url: str, ends: dict[int, int]) -> bool:
    with psycopg.connect(database_url) as conn:
        rows: dict[int, int] = dict(conn.execute("SELECT kafka_partition, next_offset FROM log_positions").fetchall())
    return all(rows.get(p, 0) >= end for p, end in ends.items() if end)


def test_the_detectors_flag_scripts_not_humans_and_a_rebuild_reproduces_every_decision(tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:6]
    events, humans, scripts = log_of(run)
    end = START + 2 * 3600 * S
    decisions: list[LogEvent] = [
        ReviewDecided(str(uuid.uuid4()), scripts[0], "approve", "mod", "a speedrunner", end),
        ReviewDecided(str(uuid.uuid4()), scripts[1], "reject", "mod", "a script", end + S),
    ]
    purge = ActionsPurged(str(uuid.uuid4()), run, "win-match", START, START + 20 * 60 * S, (), "mod", "exploit",
                          end + 2 * S)
    env = LOAD_ENV | {"SCOREBOARD_ACTIONS_FILE": str(detecting_catalog(tmp_path))}
    with isolated_world() as world:
        settings = Settings.from_env(world.env | env)
        system = System(world, world.env | env)
        system.start("worker")
        try:
            asyncio.run(_produce(settings, events))
            wait_until(lambda: set(reviews_of(world.database_url, scripts)) == set(scripts), timeout_s=120,
                       what="every script is flagged\n" + system.logs())
            asyncio.run(_produce(settings, decisions))
            ends = asyncio.run(_produce(settings, [purge], everywhere=True))
            wait_until(lambda: applied_up_to(world.database_url, ends), timeout_s=60,
                       what="the worker applied the decisions and the purge\n" + system.logs())
            wait_redis_caught_up(world.database_url, world.redis_url, {*humans, *scripts})  # Redis follows the commit
            live = snapshot(world.database_url, world.redis_url, {*humans, *scripts})
        finally:
            system.stop_all()
        flagged = reviews_of(world.database_url, [*humans, *scripts])
        assert {u: d for u, (d, _) in flagged.items()} == {u: "regularity" for u in scripts}
        assert [flagged[u][1] for u in scripts] == ["approved", "rejected", "pending"]
        states = {row[8] for row in live["ledger"] if row[1] == scripts[1]}  # type: ignore[attr-defined]
        assert "voided" in states
        asyncio.run(rebuild(settings, start_offsets=world.start_offsets, progress=False))
        rebuilt = snapshot(world.database_url, world.redis_url, {*humans, *scripts})
    assert rebuilt == live


async def _produce(settings: Settings, events: list[LogEvent], everywhere: bool = False) -> dict[int, int]:
    """Append as the api does; returns the next offset per partition written to."""
    from producer_api.appender import ActionLog
    from scoreboard.adapters.publishing import Publisher

    publisher = Publisher(settings.kafka_bootstrap, client_id="test-detection")
    log = ActionLog(publisher, settings.event_keyring(), source="/tests/detection")
    ends: dict[int, int] = {}
    try:
        for event in events:
            stamp = event.occurred_at_us // 1000
            placed = (await log.append_to_every_partition(event, timestamp_ms=stamp) if everywhere
                      else [await log.append(event, timestamp_ms=stamp)])
            for partition, offset in placed:
                ends[partition] = max(ends.get(partition, 0), offset + 1)
    finally:
        publisher.close()
    return ends
