"""A rebuild replays a log that mixes writer schema versions: a record written with an older schema
of ActionCompleted (before ``request_id``, as a hand-encoded single-object record, signed like the
api signs) counts like one written with the current schema."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
import time
import uuid
from typing import Any

import fastavro
import pytest

from devstack.worlds import isolated_world
from producer_api.appender import partition_for
from schemas import load_schema
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.adapters.publishing import Publisher
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.topics import ACTIONS
from scoreboard.settings import Settings
from stream_app.rebuild import rebuild
from tests.support.inspect import ledger_count
from tests.support.suite import LOAD_ENV
from tests.support.workload import action

pytestmark = pytest.mark.e2e


def older_writer() -> dict[str, Any]:
    older = copy.deepcopy(load_schema("ActionCompleted"))
    older["fields"] = [f for f in older["fields"] if f["name"] != "request_id"]
    return older


def encode_with(writer: dict[str, Any], event: ActionCompleted) -> bytes:
    record = {k: v for k, v in dataclasses.asdict(event).items() if k in {f["name"] for f in writer["fields"]}}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(writer), record)
    return codec.MAGIC + codec.fingerprint_of(writer) + body.getvalue()


async def append_raw(settings: Settings, events: list[tuple[ActionCompleted, bytes]]) -> None:
    """What ``ActionLog.append`` does, with the value given: the user's partition, CloudEvents headers,
    the event key's signature, the record timestamp at the event's time."""
    publisher = Publisher(settings.kafka_bootstrap, client_id="test-mixed-versions")
    keyring = settings.event_keyring()
    try:
        partitions = await asyncio.to_thread(publisher.partition_count, ACTIONS)
        for event, value in events:
            key = event.user_id.encode()
            partition = partition_for(key, partitions)
            headers = keyring.sign(ACTIONS, partition, key, value, cloud_event_headers(
                event.event_id, "ActionCompleted", "/tests/mixed-versions", event.occurred_at_us))
            await publisher.publish(ACTIONS, event.user_id, value, headers, partition=partition,
                                    timestamp_ms=event.occurred_at_us // 1000)
    finally:
        publisher.close()


def test_a_rebuild_counts_records_written_with_an_older_schema_version() -> None:
    older = older_writer()
    codec.register_writer_schema("ActionCompleted", older)  # the rebuild runs in this process
    run = uuid.uuid4().hex[:6]
    now_us = time.time_ns() // 1000
    events = [action(f"mixed{i % 5}-{run}", 10, now_us + i * 1000) for i in range(20)]
    values = [(event, encode_with(older, event) if i % 2 else codec.encode(event)) for i, event in enumerate(events)]
    assert len({value[2:10] for _, value in values}) == 2  # two writer schemas in one log
    users = {event.user_id for event in events}
    with isolated_world() as world:
        settings = Settings.from_env(world.env | LOAD_ENV)
        asyncio.run(append_raw(settings, values))
        asyncio.run(rebuild(settings, start_offsets=world.start_offsets, progress=False))
        assert ledger_count(world.database_url, users) == len(events)
