"""An asyncio face on confluent-kafka's producer: a poll thread resolves one future per message.

The producer is idempotent with ``acks=all`` and a bounded delivery timeout, so an awaited
``publish`` returns only after the broker acknowledged the record; nothing is flushed per request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from scoreboard.errors import DependencyUnavailable


class PublishFailed(DependencyUnavailable):
    """Kafka did not acknowledge the record within the delivery timeout."""


class Publisher:
    def __init__(self, bootstrap: str, *, delivery_timeout_s: float = 30.0, linger_ms: int = 2,
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
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._thread.start()

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.05)

    async def publish(self, topic: str, key: str, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        """Send and wait for the broker's acknowledgement; returns (partition, offset)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, int]] = loop.create_future()

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                loop.call_soon_threadsafe(_fail, future, PublishFailed(f"{topic}: {err.str()}"))
            else:
                loop.call_soon_threadsafe(_resolve, future, (msg.partition() or 0, msg.offset() or 0))

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
        """Flush what is queued, stop the poll thread; returns how many records were left unsent."""
        left = self._producer.flush(timeout_s)
        self._stopping.set()
        self._thread.join(timeout=2)
        return int(left)

    def ping(self, timeout_s: float = 2.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout_s)
            return True
        except KafkaException:
            return False


def _resolve(future: asyncio.Future[tuple[int, int]], value: tuple[int, int]) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[tuple[int, int]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
