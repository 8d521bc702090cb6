"""An asyncio face on confluent-kafka's producer: a poll thread resolves one future per message.

The producer is idempotent with ``acks=all`` and a bounded delivery timeout, so an awaited
``publish`` returns only after the broker acknowledged the record; nothing is flushed per request.
Delivery reports arrive in batches (one per produce request to the broker); the poll thread hands
each batch to the event loop in one ``call_soon_threadsafe``, not one wake-up per message.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from scoreboard.errors import DependencyUnavailable


class PublishFailed(DependencyUnavailable):
    """Kafka did not acknowledge the record within the delivery timeout."""


class Publisher:
    def __init__(self, bootstrap: str, *, delivery_timeout_s: float = 30.0, linger_ms: int = 0,
                 client_id: str = "scoreboard") -> None:
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "delivery.timeout.ms": int(delivery_timeout_s * 1000),
        })
        self.on_acked: Callable[[float], None] | None = None
        """Called with the seconds from produce to the broker's acknowledgement (for a metric)."""
        self._reports: list[tuple[asyncio.Future[tuple[int, int]], str, KafkaError | None, Message]] = []
        """Delivery reports of the current poll, filled by callbacks on the polling thread only."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._thread.start()

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.05)
            self._hand_over()

    def _hand_over(self) -> None:
        """Send the reports gathered by the last poll to their event loops, one call per loop."""
        if not self._reports:
            return
        reports, self._reports = self._reports, []
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for report in reports:
            by_loop.setdefault(report[0].get_loop(), []).append(report)
        for loop, batch in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, batch)
            except RuntimeError:  # that loop is closed: nobody waits for these futures any more
                pass

    async def publish(self, topic: str, key: str, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        """Send and wait for the broker's acknowledgement; returns (partition, offset)."""
        future: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()

        def delivered(err: KafkaError | None, msg: Message) -> None:
            self._reports.append((future, topic, err, msg))

        while True:
            try:
                self._producer.produce(topic, value=value, key=key.encode(), headers=list(headers),
                                       on_delivery=delivered)
                break
            except BufferError:
                await asyncio.sleep(0.01)  # local queue full: let the poll thread drain it
            except KafkaException as exc:
                raise PublishFailed(f"{topic}: {exc}") from exc
        started = time.perf_counter()
        result = await future
        if self.on_acked is not None:
            self.on_acked(time.perf_counter() - started)
        return result

    async def publish_many(self, records: Sequence[tuple[str, str, bytes, Sequence[tuple[str, bytes]]]]) -> None:
        """Send all records and wait until every one is acknowledged."""
        await asyncio.gather(*(self.publish(t, k, v, h) for t, k, v, h in records))

    def close(self, timeout_s: float = 10.0) -> int:
        """Stop the poll thread, flush what is queued; returns how many records were left unsent."""
        self._stopping.set()
        self._thread.join(timeout=2)
        left = self._producer.flush(timeout_s)  # serves the remaining callbacks on this thread
        self._hand_over()
        return int(left)

    def ping(self, timeout_s: float = 2.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout_s)
            return True
        except KafkaException:
            return False


def _settle(batch: list[tuple[asyncio.Future[tuple[int, int]], str, KafkaError | None, Message]]) -> None:
    for future, topic, err, msg in batch:
        if future.done():  # the publisher's caller was cancelled
            continue
        if err is not None:
            future.set_exception(PublishFailed(f"{topic}: {err.str()}"))
        else:
            future.set_result((msg.partition() or 0, msg.offset() or 0))
