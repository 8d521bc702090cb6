"""The worker's Kafka transport: Faust's aiokafka transport with a short broker-side fetch wait.

Faust creates its aiokafka consumer with ``fetch_max_wait_ms=1500`` (not a setting). The fetcher
keeps one fetch in flight per broker, and leaves out of it the partitions whose records are still
buffered, not yet taken by the stream. When the stream takes them a moment later (it was busy with a
batch), the fetch in flight may hold only partitions that get no new records, and the broker keeps
it up to that wait: the partitions with records wait behind it, up to 1.5 s. Under the e2e load
(10 users, so only some partitions get records) such stalls made the 1-2 s tail at 1,000 actions/s
(docs/benchmarks.md, "The worker's CPU per action, and a 1.5 s fetch stall"). With
``FETCH_MAX_WAIT_MS`` the longest such wait is that long; the price is an idle worker's empty fetch
every ``FETCH_MAX_WAIT_MS``.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 50
"""How long the broker may hold a fetch for records that have not arrived yet. An idle consumer then
fetches 20 times a second (~20 ms of CPU per second, against ~4 at Faust's 1,500 and ~47 at 20 ms)."""


class ShortWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, its aiokafka consumer made with ``FETCH_MAX_WAIT_MS``."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer: aiokafka.AIOKafkaConsumer = super()._create_worker_consumer(transport)
        # aiokafka keeps the constructor's value here and hands it to its fetcher at start()
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class ShortWaitConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ShortWaitConsumerThread:
        return ShortWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ShortWaitTransport(faust_aiokafka.Transport):
    """``kafka://`` as Faust's aiokafka transport, consuming with ``ShortWaitConsumer``."""

    Consumer = ShortWaitConsumer


def use_short_fetch_wait(app: Any) -> None:
    """Give ``app`` (a ``faust.App`` whose transport is not made yet) the short-wait transport."""
    app.transport = ShortWaitTransport(app.conf.broker_consumer, app)
