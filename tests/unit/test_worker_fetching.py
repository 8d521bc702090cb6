"""The worker's Faust app consumes with a short broker-side fetch wait (``stream_app.fetching``)."""

from __future__ import annotations

import asyncio
import uuid

import faust

from stream_app.fetching import FETCH_MAX_WAIT_MS, ShortWaitConsumer, ShortWaitTransport, use_short_fetch_wait


def test_the_worker_app_creates_its_kafka_consumer_with_the_short_fetch_wait() -> None:
    """Faust's 1.5 s default would let a fetch of record-less partitions hold up the others that long."""
    async def body() -> tuple[object, int]:
        app = faust.App(f"test-fetching-{uuid.uuid4().hex[:6]}", broker="kafka://127.0.0.1:9", store="memory://",
                        autodiscover=False, web_enabled=False)
        use_short_fetch_wait(app)
        consumer = app.consumer
        assert isinstance(consumer, ShortWaitConsumer)
        kafka_consumer = consumer._new_consumer_thread()._create_worker_consumer(app.transport)
        return app.transport, int(kafka_consumer._fetch_max_wait_ms)

    transport, wait_ms = asyncio.run(body())
    assert isinstance(transport, ShortWaitTransport)
    assert wait_ms == FETCH_MAX_WAIT_MS < 1500
