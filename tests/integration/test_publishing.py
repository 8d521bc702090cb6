"""The Kafka publisher against the real broker: every awaited publish resolves with its own offset
(delivery reports are handed to the loop in batches), a cancelled caller does not disturb the others,
and a broker that never answers fails the publish instead of hanging it."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import uvloop
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from devstack.ports import free_port
from scoreboard.adapters.kafka_retry import retry_kafka
from scoreboard.adapters.publishing import Publisher, PublishFailed
from scoreboard.settings import merged_environment

TOPIC = "scoreboard.test-publishing"


@pytest.fixture(scope="module")
def bootstrap() -> str:
    """The stack's broker, with a topic of its own for these tests (auto-creation is off)."""
    address = merged_environment()["SCOREBOARD_KAFKA_BOOTSTRAP"]
    admin = AdminClient({"bootstrap.servers": address})

    def create() -> None:  # retried through a broker that is still starting (retry_kafka)
        if TOPIC in admin.list_topics(timeout=10).topics:
            return
        for future in admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)]).values():
            try:
                future.result(15)
            except KafkaException as exc:  # created meanwhile by another run is fine
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise

    retry_kafka(create, what=f"create {TOPIC}")
    return address


@pytest.mark.parametrize("run_loop", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_concurrent_publishes_each_resolve_with_their_own_offset(run_loop: object, bootstrap: str) -> None:
    async def body() -> list[tuple[int, int]]:
        publisher = Publisher(bootstrap, client_id="test-publishing")
        try:
            key = uuid.uuid4().hex  # one key: one partition, so offsets are consecutive
            cancelled = asyncio.ensure_future(publisher.publish(TOPIC, key, b"cancelled"))
            results = asyncio.gather(*(publisher.publish(TOPIC, key, f"{i}".encode()) for i in range(400)))
            await asyncio.sleep(0)
            cancelled.cancel()
            return await results
        finally:
            publisher.close()

    results = run_loop(body())  # type: ignore[operator]
    partitions = {partition for partition, _ in results}
    offsets = [offset for _, offset in results]
    assert len(partitions) == 1
    assert len(set(offsets)) == 400
    assert offsets == sorted(offsets)  # one key keeps the order of produce


def test_a_broker_that_never_answers_fails_the_publish() -> None:
    async def body() -> None:
        publisher = Publisher(f"127.0.0.1:{free_port()}", delivery_timeout_s=1.5, client_id="test-publishing")
        try:
            with pytest.raises(PublishFailed):
                await asyncio.wait_for(publisher.publish(TOPIC, "k", b"v"), 20)
        finally:
            publisher.close(timeout_s=1)

    asyncio.run(body())


@pytest.mark.parametrize("run_loop", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_publish_many_returns_when_every_record_is_acknowledged_in_order(run_loop: object, bootstrap: str) -> None:
    """The records of a publish_many land in the order handed over, all acknowledged by its return."""
    async def body() -> tuple[tuple[int, int], tuple[int, int], int]:
        publisher = Publisher(bootstrap, client_id="test-publishing")
        acked: list[float] = []
        publisher.on_acked = acked.append
        try:
            key = uuid.uuid4().hex  # one key: one partition, so offsets are consecutive
            before = await publisher.publish(TOPIC, key, b"before")
            await publisher.publish_many([(TOPIC, key, f"{i}".encode(), [("n", f"{i}".encode())]) for i in range(300)])
            after = await publisher.publish(TOPIC, key, b"after")
            return before, after, len(acked)
        finally:
            publisher.close()

    before, after, acked = run_loop(body())  # type: ignore[operator]
    assert after == (before[0], before[1] + 301)
    assert acked == 302
    assert _values(bootstrap, before[0], before[1] + 1, 300) == [f"{i}".encode() for i in range(300)]


def _values(bootstrap: str, partition: int, start: int, count: int) -> list[bytes]:
    """The values of ``count`` records of TOPIC's ``partition`` from offset ``start``, in log order."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-publishing-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    found: list[bytes] = []
    try:
        consumer.assign([TopicPartition(TOPIC, partition, start)])
        deadline = time.monotonic() + 30
        while len(found) < count and time.monotonic() < deadline:
            for message in consumer.consume(count - len(found), timeout=1.0):
                if message.error() is None:
                    found.append(bytes(message.value() or b""))
    finally:
        consumer.close()
    return found


def test_publish_many_to_a_broker_that_never_answers_fails() -> None:
    """Not one acknowledgement: publish_many raises instead of hanging."""
    async def body() -> None:
        publisher = Publisher(f"127.0.0.1:{free_port()}", delivery_timeout_s=1.5, client_id="test-publishing")
        try:
            with pytest.raises(PublishFailed):
                await asyncio.wait_for(publisher.publish_many([(TOPIC, "k", b"v", []), (TOPIC, "k", b"w", [])]), 20)
        finally:
            publisher.close(timeout_s=1)

    asyncio.run(body())
