"""A rebuild that replays the partitions in several processes gives exactly the projections one process gives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from devstack.worlds import isolated_world
from scoreboard.domain.clock import to_micros
from scoreboard.settings import Settings
from stream_app.rebuild import rebuild
from tests.support.inspect import snapshot
from tests.support.reference import Reference
from tests.support.suite import LOAD_ENV
from tests.support.workload import mixed_log, produce

pytestmark = pytest.mark.e2e
START = to_micros(datetime(2026, 11, 29, 23, 59, 58, tzinfo=UTC))


def test_a_rebuild_in_parallel_processes_equals_one_in_a_single_process() -> None:
    """Actions, duplicates, adjustments and bans over every partition, across a day boundary: one
    process, then three (the partitions split between them), then one again in small batches; the
    ledger, standings, bans, rejections, usage and Redis rank order are the same each time, and the
    model's."""
    events = mixed_log(2400, 120, start_us=START, seed=9)
    reference = Reference().apply(events)
    with isolated_world() as world:
        asyncio.run(produce(world.kafka_bootstrap, events, chunk=400))
        settings = Settings.from_env(world.env | LOAD_ENV)
        results = []
        for workers, batch_size in ((1, 40_000), (3, 40_000), (2, 97)):
            report = asyncio.run(rebuild(settings, start_offsets=world.start_offsets, progress=False,
                                         workers=workers, batch_size=batch_size))
            assert report.events >= len(events)
            results.append(snapshot(world.database_url, world.redis_url, reference.users))
    serial, parallel, small = results
    assert serial["redis"]["global"] == reference.top("global")  # type: ignore[index]
    assert len(serial["ledger"]) == reference.counted  # type: ignore[arg-type]
    assert parallel == serial
    assert small == serial
