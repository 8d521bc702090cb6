"""Read what landed on a topic since a point in time, decoded, to check what an api call appended."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from devstack.worlds import topic_ends
from scoreboard.adapters import codec
from scoreboard.domain.topics import ACTIONS


def _consumer(bootstrap: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}",
                     "enable.auto.commit": False})


def records_since(bootstrap: str, since: dict[int, int],
                  topic: str = ACTIONS) -> list[tuple[str, Any, dict[str, bytes]]]:
    """(key, decoded event, headers) of every record written after ``since``, up to the current end."""
    ends = topic_ends(bootstrap, topic)
    consumer = _consumer(bootstrap)
    found: list[tuple[str, Any, dict[str, bytes]]] = []
    try:
        pending = {p for p in ends if ends[p] > since.get(p, 0)}
        consumer.assign([TopicPartition(topic, p, since.get(p, 0)) for p in pending])
        while pending:
            message = consumer.poll(30)  # the records are there (pending): only a slow first fetch waits
            if message is None:
                raise AssertionError(f"topic {topic}: no record within 30 s, still waiting on {pending}")
            if message.error():
                continue
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None:
                continue
            headers = {str(pair[0]): bytes(pair[1]) for pair in message.headers() or []
                       if isinstance(pair[1], (bytes, bytearray))}
            found.append(((message.key() or b"").decode(), codec.decode(message.value() or b""), headers))
            if offset + 1 >= ends[partition]:
                pending.discard(partition)
    finally:
        consumer.close()
    return found
