"""An ActionCompleted written with an older writer schema (before ``request_id``), appended as the api
appends: hand-encoded in single-object encoding, on the user's partition, with CloudEvents headers and the
event key's signature; used by the mixed-version rebuild and the foreign-consumer tests."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
from typing import Any

import fastavro

from producer_api.appender import partition_for
from schemas import load_schema
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.adapters.publishing import Publisher
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.topics import ACTIONS
from scoreboard.settings import Settings


def older_writer() -> dict[str, Any]:
    """The current ActionCompleted schema without ``request_id``: another fingerprint, the same name."""
    older = copy.deepcopy(load_schema("ActionCompleted"))
    older["fields"] = [f for f in older["fields"] if f["name"] != "request_id"]
    return older


def encode_with(writer: dict[str, Any], event: ActionCompleted) -> bytes:
    record = {k: v for k, v in dataclasses.asdict(event).items() if k in {f["name"] for f in writer["fields"]}}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(writer), record)
    return codec.MAGIC + codec.fingerprint_of(writer) + body.getvalue()


async def append_raw(settings: Settings, events: list[tuple[ActionCompleted, bytes]]) -> None:
    """What ``ActionLog.append`` does, with the value given."""
    publisher = Publisher(settings.kafka_bootstrap, client_id="test-older-schema")
    keyring = settings.event_keyring()
    try:
        partitions = await asyncio.to_thread(publisher.partition_count, ACTIONS)
        for event, value in events:
            key = event.user_id.encode()
            partition = partition_for(key, partitions)
            headers = keyring.sign(ACTIONS, partition, key, value, cloud_event_headers(
                event.event_id, "ActionCompleted", "/tests/older-schema", event.occurred_at_us))
            await publisher.publish(ACTIONS, event.user_id, value, headers, partition=partition,
                                    timestamp_ms=event.occurred_at_us // 1000)
    finally:
        publisher.close()
