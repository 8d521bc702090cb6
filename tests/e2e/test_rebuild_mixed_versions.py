"""A rebuild replays a log that mixes writer schema versions: a record written with an older schema
of ActionCompleted (before ``request_id``, as a hand-encoded single-object record, signed like the
api signs) counts like one written with the current schema."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from devstack.worlds import isolated_world
from scoreboard.adapters import codec
from scoreboard.settings import Settings
from stream_app.rebuild import rebuild
from tests.support.inspect import ledger_count
from tests.support.older_schema import append_raw, encode_with, older_writer
from tests.support.suite import LOAD_ENV
from tests.support.workload import action

pytestmark = pytest.mark.e2e


def test_a_rebuild_counts_records_written_with_an_older_schema_version() -> None:
    older = older_writer()
    codec.register_writer_schema("ActionCompleted", older)  # known to this process only: replay here (workers=1)
    run = uuid.uuid4().hex[:6]
    now_us = time.time_ns() // 1000
    events = [action(f"mixed{i % 5}-{run}", 10, now_us + i * 1000) for i in range(20)]
    values = [(event, encode_with(older, event) if i % 2 else codec.encode(event)) for i, event in enumerate(events)]
    assert len({value[2:10] for _, value in values}) == 2  # two writer schemas in one log
    users = {event.user_id for event in events}
    with isolated_world() as world:
        settings = Settings.from_env(world.env | LOAD_ENV)
        asyncio.run(append_raw(settings, values))
        asyncio.run(rebuild(settings, start_offsets=world.start_offsets, progress=False, workers=1))
        assert ledger_count(world.database_url, users) == len(events)
