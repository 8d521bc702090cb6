"""``scoreboard events tail``: the decoded records of a topic, one JSON object per line.

It reads with a plain confluent-kafka ``Consumer`` assigned to every partition of the topic (no group
membership, nothing committed: a random group id and ``enable.auto.commit`` off), from the end (new
records only) or from the beginning, with the project's Kafka security settings. A value the codec
cannot decode is shown as ``{"undecodable": <error>, "bytes": <hex>}``; the tail goes on.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, TopicPartition

from scoreboard.adapters import codec
from scoreboard.adapters.kafka_security import librdkafka_config
from scoreboard.domain.errors import ConfigurationError, DependencyUnavailable
from scoreboard.settings import Settings

Headers = Sequence[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None]
POLL_SECONDS = 1.0
METADATA_TIMEOUT_SECONDS = 10.0


def text_or_hex(raw: bytes | str | None) -> str | dict[str, str] | None:
    """Printable UTF-8 as text, anything else as ``{"hex": ...}``; ``None`` stays ``None``."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": bytes(raw).hex()}
    return text if text.isprintable() else {"hex": bytes(raw).hex()}


def event_json(value: bytes | None) -> dict[str, Any]:
    """The decoded event as JSON (``type`` is its class name), or what made it undecodable."""
    if value is None:
        return {"undecodable": "no value (a tombstone)", "bytes": ""}
    try:
        event = codec.decode(value)
    except Exception as exc:  # any failure of a record's bytes is shown, never fatal
        return {"undecodable": f"{type(exc).__name__}: {exc}", "bytes": bytes(value).hex()}
    return {"type": type(event).__name__, **dataclasses.asdict(event)}


def record_json(*, topic: str, partition: int, offset: int, timestamp_ms: int | None, key: bytes | None,
                headers: Headers | None, value: bytes | None) -> dict[str, Any]:
    """One record as the JSON object ``events tail`` prints (a header repeated keeps its last value)."""
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp_ms,
        "time": None if timestamp_ms is None
        else datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(timespec="milliseconds"),
        "key": text_or_hex(key),
        "headers": {name: text_or_hex(raw) for name, raw in
                    (headers.items() if isinstance(headers, Mapping) else headers or ())},
        "event": event_json(value),
    }


def record_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "), default=str)


def consumer_config(settings: Settings, from_beginning: bool) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": f"scoreboard-tail-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        **librdkafka_config(settings),
    }


def tail(settings: Settings, topic: str, *, from_beginning: bool = False, max_records: int = 0,
         emit: Callable[[str], None] = print, idle_timeout_s: float = 0.0) -> int:
    """Print the topic's records until ``max_records`` (0: no bound) have been printed, or Ctrl-C, or
    (when ``idle_timeout_s`` > 0) no record came for that long. Returns how many were printed."""
    consumer = Consumer(consumer_config(settings, from_beginning))
    printed = 0
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_SECONDS)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise ConfigurationError(f"topic {topic!r} not found at {settings.kafka_bootstrap}")
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in sorted(found.partitions)])
        idle = 0.0
        while max_records <= 0 or printed < max_records:
            message = consumer.poll(POLL_SECONDS)
            if message is None:
                idle += POLL_SECONDS
                if idle_timeout_s > 0 and idle >= idle_timeout_s:
                    break
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise DependencyUnavailable(f"reading {topic}: {error.str()}")
            idle = 0.0
            kind, stamp = message.timestamp()
            emit(record_line(record_json(
                topic=topic, partition=message.partition() or 0, offset=message.offset() or 0,
                timestamp_ms=None if kind == TIMESTAMP_NOT_AVAILABLE else stamp, key=message.key(),
                headers=message.headers(), value=message.value())))
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return printed
