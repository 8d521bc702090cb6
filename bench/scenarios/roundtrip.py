"""kafka_roundtrip: raw produce-to-consume latency on the same broker, at the e2e rate.

Producer configured as the api's (idempotent, acks=all, the api's default linger); a consumer on a private
one-partition topic in a thread of the same process, so both read the same clock.
"""

from __future__ import annotations

import struct
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.stats import latency_summary
from scoreboard.settings import Settings


def run(bootstrap: str, rate: int, seconds: float, tick: Callable[[float], None]) -> dict[str, float]:
    topic = f"bench.roundtrip.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=-1)])[topic].result(30)
    samples: list[float] = []
    stop = threading.Event()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])

    def consume() -> None:
        while not stop.is_set():
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            sent_ns = struct.unpack(">q", (message.value() or bytes(8))[:8])[0]
            samples.append((time.time_ns() - sent_ns) / 1e6)

    reader = threading.Thread(target=consume, name="roundtrip-consumer", daemon=True)
    reader.start()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": Settings().produce_linger_ms, "client.id": "bench-roundtrip"})
    padding = b"x" * 120  # about the size of an encoded ActionCompleted
    total = int(rate * seconds)
    try:
        time.sleep(1.0)  # let the consumer's first fetch settle
        started = time.monotonic()
        for i in range(total):
            due = started + i / rate
            while (wait := due - time.monotonic()) > 0:
                producer.poll(min(wait, 0.01))
            producer.produce(topic, key=f"u{i % 64}".encode(), value=struct.pack(">q", time.time_ns()) + padding)
            producer.poll(0)
            if i % rate == 0:
                tick(time.monotonic() - started)
        producer.flush(30)
        deadline = time.monotonic() + 10
        while len(samples) < total and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join(timeout=5)
        consumer.close()
        admin.delete_topics([topic])
    return {"rate": rate, **latency_summary(samples), "samples": len(samples), "lost": total - len(samples)}
