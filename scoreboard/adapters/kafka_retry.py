"""Bounded retries of Kafka admin, metadata, offset and commit calls through the broker's passing errors.

A broker that has just started (a freshly formatted KRaft node, a test stack), a coordinator that
moved, or a partition leader being elected answers such calls for a moment with ``NOT_COORDINATOR``,
``COORDINATOR_LOAD_IN_PROGRESS``, ``COORDINATOR_NOT_AVAILABLE``, ``LEADER_NOT_AVAILABLE``,
``NOT_LEADER_FOR_PARTITION`` or a timeout. librdkafka retries many of them inside its producer and
consumer loops, but a one-shot call (``commit(asynchronous=False)``, ``get_watermark_offsets``,
``list_topics``, an ``AdminClient`` future) hands them to the caller. ``retry_kafka`` retries the call,
with backoff, while the error is retriable (the error says so, or its code is in ``RETRIABLE_CODES``),
at most ``attempts`` times and within ``deadline_s``; any other error, and the last retriable one, is
raised as it came.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIABLE_CODES = frozenset({
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.FENCED_LEADER_EPOCH,
    KafkaError.UNKNOWN_LEADER_EPOCH,
    KafkaError.OFFSET_NOT_AVAILABLE,
    KafkaError.NOT_ENOUGH_REPLICAS,
    KafkaError.NOT_CONTROLLER,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NETWORK_EXCEPTION,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._WAIT_COORD,
    KafkaError._ALL_BROKERS_DOWN,
})


def kafka_error_of(exc: BaseException) -> KafkaError | None:
    found = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return found if isinstance(found, KafkaError) else None


def is_retriable(exc: BaseException) -> bool:
    """A Kafka error that passes by itself (coordinator or leader moving, broker starting, timeout)."""
    error = kafka_error_of(exc)
    if error is None or error.fatal():
        return False
    return bool(error.retriable()) or error.code() in RETRIABLE_CODES


def group_not_found(exc: BaseException) -> bool:
    error = kafka_error_of(exc)
    return error is not None and error.code() == KafkaError.GROUP_ID_NOT_FOUND


def raise_for_error(error: KafkaError | None) -> None:
    """Raise the error a metadata or offset result carries (``TopicMetadata.error``, ``TopicPartition.error``)
    as the ``KafkaException`` a call would have raised, so ``retry_kafka`` can judge it."""
    if error is not None:
        raise KafkaException(error)


def retry_kafka(call: Callable[[], T], *, attempts: int = 10, deadline_s: float = 60.0,
                what: str = "kafka call", first_backoff_s: float = 0.1, max_backoff_s: float = 2.0) -> T:
    """``call()``, retried while it raises a retriable ``KafkaException`` (see the module docstring)."""
    deadline = time.monotonic() + deadline_s
    delay = first_backoff_s
    attempt = 1
    while True:
        try:
            return call()
        except KafkaException as exc:
            left = deadline - time.monotonic()
            if not is_retriable(exc) or attempt >= attempts or left <= 0:
                raise
            pause = min(delay, left)
            log.warning("%s failed (attempt %d of %d), retrying in %.2fs: %s", what, attempt, attempts, pause, exc)
            time.sleep(pause)
            delay = min(delay * 2, max_backoff_s)
            attempt += 1


def end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    """The end offset of every partition of ``topic``, retried through leader elections and timeouts."""
    def read() -> dict[int, int]:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        raise_for_error(metadata.error)
        ends: dict[int, int] = {}
        for p, partition in metadata.partitions.items():
            raise_for_error(partition.error)
            ends[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        return ends
    return retry_kafka(read, what=f"end offsets of {topic}")


def commit_offsets(consumer: Consumer, offsets: list[TopicPartition]) -> None:
    """Commit synchronously, retried while the group coordinator moves or loads (``NOT_COORDINATOR``, ...)."""
    def commit() -> None:
        for committed in consumer.commit(offsets=offsets, asynchronous=False) or []:
            raise_for_error(committed.error)
    retry_kafka(commit, what="offset commit")
