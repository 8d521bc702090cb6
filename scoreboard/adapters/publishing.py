"""An asyncio face on confluent-kafka's producer: the event loop itself serves the delivery reports.

The producer is idempotent with ``acks=all`` and a bounded delivery timeout, so an awaited
``publish`` returns only after the broker acknowledged the record; nothing is flushed per request.

Delivery reports are served by ``poll(0)`` on the event loop, by a poller task that runs only while
records await their acknowledgement: it polls again at once while reports keep coming and every
``POLL_INTERVAL_S`` otherwise, and ends when nothing is outstanding. A dedicated poll thread did the
same at less latency but, under load, handing the GIL between it and the loop for every batch of
reports cost the api throughput (measured in ``docs/adr/0005-delivery-reports-on-the-loop.md``).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Mapping, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from scoreboard.domain.errors import DependencyUnavailable

POLL_INTERVAL_S = 0.001
"""How long the poller waits after a poll that served nothing (libuv timers have 1 ms resolution)."""

Report = tuple["asyncio.Future[tuple[int, int]]", str, KafkaError | None, Message]


class PublishFailed(DependencyUnavailable):
    """Kafka did not acknowledge the record within the delivery timeout."""


class Publisher:
    def __init__(self, bootstrap: str, *, delivery_timeout_s: float = 30.0, linger_ms: int = 0,
                 client_id: str = "scoreboard", extra_config: Mapping[str, str] | None = None) -> None:
        # extra_config carries the connection's security (scoreboard.adapters.kafka_security.librdkafka_config).
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "delivery.timeout.ms": int(delivery_timeout_s * 1000),
            **(extra_config or {}),
        })
        self.on_acked: Callable[[float], None] | None = None
        """Called with the seconds from produce to the broker's acknowledgement (for a metric)."""
        self._reports: collections.deque[Report] = collections.deque()
        """Filled by delivery callbacks (inside poll or flush), drained by ``_settle_reports``."""
        self._poller: asyncio.Task[None] | None = None
        self._outstanding: set[asyncio.Future[tuple[int, int]]] = set()
        """Futures of records awaiting their report, failed together if the producer fails fatally."""

    async def publish(self, topic: str, key: str, value: bytes,
                      headers: Sequence[tuple[str, bytes]] = (), partition: int = -1,
                      timestamp_ms: int = 0) -> tuple[int, int]:
        """Send and wait for the broker's acknowledgement; returns (partition, offset). ``partition``
        -1 lets the producer's partitioner choose from the key."""
        loop = asyncio.get_running_loop()
        while (future := self._produce(loop, topic, key, value, headers, partition, timestamp_ms)) is None:
            self._serve()  # the local queue is full: serve reports, give the broker a moment
            await asyncio.sleep(0.01)
        self._keep_polling(loop)
        started = time.perf_counter()
        result = await future
        if self.on_acked is not None:
            self.on_acked(time.perf_counter() - started)
        return result

    async def publish_many(self, records: Sequence[tuple[str, str, bytes, Sequence[tuple[str, bytes]]]]) -> None:
        """Send all records and wait until every one is acknowledged (raises ``PublishFailed`` if one is
        not). Every record is handed to the producer first, in order, and then the acknowledgements are
        awaited: one future per record and no task per record (a worker batch publishes hundreds)."""
        if not records:
            return
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[tuple[int, int]]] = []
        try:
            for topic, key, value, headers in records:
                while (future := self._produce(loop, topic, key, value, headers)) is None:
                    self._serve()  # the local queue is full: serve reports, give the broker a moment
                    await asyncio.sleep(0.01)
                futures.append(future)
            self._keep_polling(loop)
            if self.on_acked is not None:
                observe = _AckTimer(self.on_acked)
                for future in futures:
                    future.add_done_callback(observe)
            for future in futures:
                await future
        except BaseException:
            for future in futures:  # nobody awaits the others any more: their outcome is no error of theirs
                future.add_done_callback(_retrieve)
            raise

    def _produce(self, loop: asyncio.AbstractEventLoop, topic: str, key: str, value: bytes,
                 headers: Sequence[tuple[str, bytes]], partition: int = -1,
                 timestamp_ms: int = 0) -> asyncio.Future[tuple[int, int]] | None:
        """Hand one record to the producer: the future of its acknowledgement, or None if the
        producer's local queue is full."""
        reports = self._reports
        future: asyncio.Future[tuple[int, int]] = loop.create_future()

        def delivered(err: KafkaError | None, msg: Message) -> None:
            reports.append((future, topic, err, msg))

        try:
            self._producer.produce(topic, value=value, key=key.encode(), headers=list(headers),
                                   partition=partition, timestamp=timestamp_ms, on_delivery=delivered)
        except BufferError:
            return None
        except KafkaException as exc:
            raise PublishFailed(f"{topic}: {exc}") from exc
        self._outstanding.add(future)
        future.add_done_callback(self._outstanding.discard)
        return future

    def _keep_polling(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the poller on ``loop`` unless it runs there already (it ends when nothing is outstanding)."""
        poller = self._poller
        if poller is None or poller.done() or poller.get_loop() is not loop:
            self._poller = loop.create_task(self._poll_while_outstanding())

    async def _poll_while_outstanding(self) -> None:
        # len(producer): records not yet acknowledged plus reports not yet served
        try:
            while len(self._producer) > 0:
                served = self._serve()
                await asyncio.sleep(0 if served else POLL_INTERVAL_S)
            self._serve()
        except KafkaException as exc:
            # A fatal producer error (e.g. not authorised to write) surfaces from poll(), and the
            # outstanding records get no report: fail their waiters instead of leaving them hanging.
            self._fail_outstanding(PublishFailed(f"producer failed: {exc}"))

    def _fail_outstanding(self, error: PublishFailed) -> None:
        for future in list(self._outstanding):
            if not future.done():
                future.get_loop().call_soon_threadsafe(_fail, future, error)
        self._outstanding.clear()

    def _serve(self) -> int:
        served: int = self._producer.poll(0)
        self._settle_reports()
        return served

    def _settle_reports(self) -> None:
        """Resolve the futures of the reports served so far: directly on their own loop's thread,
        through ``call_soon_threadsafe`` from any other thread (``close`` may run in one)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        while self._reports:
            report = self._reports.popleft()
            loop = report[0].get_loop()
            if loop is running:
                _settle(report)
            else:
                try:
                    loop.call_soon_threadsafe(_settle, report)
                except RuntimeError:  # that loop is closed: nobody waits for this future any more
                    pass

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush what is queued; returns how many records were left unsent."""
        left = self._producer.flush(timeout_s)  # serves the remaining callbacks on this thread
        self._settle_reports()
        return int(left)

    def partition_count(self, topic: str, timeout_s: float = 10.0) -> int:
        """How many partitions ``topic`` has (blocking: call it from a thread)."""
        try:
            metadata = self._producer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        except KafkaException as exc:
            raise PublishFailed(f"{topic}: no metadata: {exc}") from exc
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise PublishFailed(f"{topic}: no such topic ({metadata.error if metadata else 'absent'})")
        return len(metadata.partitions)

    def ping(self, timeout_s: float = 2.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout_s)
            return True
        except KafkaException:
            return False


def _fail(future: asyncio.Future[tuple[int, int]], error: PublishFailed) -> None:
    if not future.done():
        future.set_exception(error)


class _AckTimer:
    """Reports each acknowledged record's seconds since the batch was handed to the producer."""

    def __init__(self, on_acked: Callable[[float], None]) -> None:
        self._on_acked = on_acked
        self._started = time.perf_counter()

    def __call__(self, future: asyncio.Future[tuple[int, int]]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._on_acked(time.perf_counter() - self._started)


def _retrieve(future: asyncio.Future[tuple[int, int]]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(report: Report) -> None:
    future, topic, err, msg = report
    if future.done():  # the publisher's caller was cancelled
        return
    if err is not None:
        future.set_exception(PublishFailed(f"{topic}: {err.str()}"))
    else:
        future.set_result((msg.partition() or 0, msg.offset() or 0))
