"""Appends the api's events to the actions topic: encoded, on the user's partition, signed.

The api picks the partition itself (CRC-32 of the key modulo the partition count, the placement
librdkafka's default partitioner gives a keyed record) so that the signature can cover it: a signed
record copied to another partition, or under another key, no longer verifies and the worker rejects
it. Every event the api writes, admin events included, goes through here.
"""

from __future__ import annotations

import asyncio
import zlib

from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.adapters.publishing import Publisher
from scoreboard.adapters.tracing import SpanKind, Tracing
from scoreboard.domain.events import LogEvent
from scoreboard.domain.signing import SigningKeyring
from scoreboard.domain.topics import ACTIONS

API_SOURCE = "/scoreboard/producer_api"


def partition_for(key: bytes, partitions: int) -> int:
    return zlib.crc32(key) % partitions


class ActionLog:
    def __init__(self, publisher: Publisher, keyring: SigningKeyring, source: str = API_SOURCE,
                 tracing: Tracing | None = None) -> None:
        self._publisher = publisher
        self._tracing = tracing or Tracing()
        self._keyring = keyring
        self._source = source
        self._partitions = 0
        self._counting: asyncio.Task[int] | None = None

    async def append(self, event: LogEvent, timestamp_ms: int = 0) -> tuple[int, int]:
        """Send the event and wait for Kafka's acknowledgement; returns (partition, offset).
        ``timestamp_ms`` sets the record's timestamp (0: the producer's clock, as the api does);
        backfills of past events set it to the event's time, or the worker rejects them as skewed."""
        key = event.user_id.encode()
        value = codec.encode(event)
        partition = partition_for(key, self._partitions or await self._count())
        headers = cloud_event_headers(event.event_id, type(event).__name__, self._source, event.occurred_at_us)
        if not self._tracing.enabled:
            return await self._publisher.publish(ACTIONS, event.user_id, value, self._keyring.sign(
                ACTIONS, partition, key, value, headers), partition=partition, timestamp_ms=timestamp_ms)
        # A producer span (child of the request's) names itself as the record's parent: the worker's
        # span for this event continues the trace from here.
        with self._tracing.span(f"send {ACTIONS}", kind=SpanKind.PRODUCER, attributes={
                "messaging.system": "kafka", "messaging.operation.type": "send",
                "messaging.destination.name": ACTIONS, "messaging.destination.partition.id": str(partition),
                "messaging.message.id": event.event_id}) as span:
            signed = self._keyring.sign(ACTIONS, partition, key, value, [*headers, *self._tracing.headers(span)])
            placed = await self._publisher.publish(ACTIONS, event.user_id, value, signed, partition=partition,
                                                   timestamp_ms=timestamp_ms)
            if span is not None:
                span.set_attribute("messaging.kafka.offset", placed[1])
            return placed

    async def append_to_every_partition(self, event: LogEvent, timestamp_ms: int = 0) -> list[tuple[int, int]]:
        """One copy of ``event`` on each partition, each signed for its partition (a purge: each
        partition's worker applies it to its own users, in its own log order)."""
        key = event.user_id.encode()
        value = codec.encode(event)
        headers = cloud_event_headers(event.event_id, type(event).__name__, self._source, event.occurred_at_us)
        count = self._partitions or await self._count()
        return list(await asyncio.gather(*(
            self._publisher.publish(ACTIONS, event.user_id, value, self._keyring.sign(ACTIONS, p, key, value, headers),
                                    partition=p, timestamp_ms=timestamp_ms) for p in range(count))))

    async def _count(self) -> int:
        # The partition count is read once: adding partitions to a keyed topic moves users between
        # partitions anyway, and needs the api restarted (the worker then rejects nothing: every
        # record carries the partition it was signed for). Appends that wait for it share one
        # read and resume in the order they were called, so a user's events keep their order.
        if self._counting is None or (self._counting.done() and self._counting.exception() is not None):
            self._counting = asyncio.ensure_future(asyncio.to_thread(self._publisher.partition_count, ACTIONS))
        self._partitions = await self._counting
        return self._partitions
