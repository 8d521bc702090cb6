"""baseline_floor against real Redis and Kafka: it answers the api's route with 202 only after the
broker acknowledged a record on its private topic, and its merged admission script decides as the
api's four scripts do."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from redis import Redis
from starlette.testclient import TestClient

from bench.baselines.floor import MERGED, create_app, create_floor_topic, delete_floor_topic
from devstack.worlds import World, isolated_world
from producer_api.completions import RESERVE
from producer_api.idempotency import CLAIM
from producer_api.ratelimit import TAKE
from scoreboard.domain.topics import ACTIONS, TOPICS


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with isolated_world() as created:
        yield created


def admission(tag: str) -> tuple[list[list[str]], list[list[int | float | str]]]:
    """Keys and arguments of the four scripts for one request of a user named by ``tag``."""
    slot = f"sb:{{u:{tag}}}"
    keys = [[f"sb:rl:ip:{{{tag}}}"], [f"sb:rl:user:{{{tag}}}"], [f"{slot}:idem:key-1"],
            [f"{slot}:{part}" for part in ("ticket:-", "cool:a", "cap:a:d", "budget:h:1", "budget:d:d", "open:a",
                                           "refused")]]
    claim = json.dumps({"event_id": "e", "ack": False})
    args: list[list[int | float | str]] = [[1000, 5, 1], [0.001, 1, 1], [claim, 40000, 60],
                                           ["key-1", 0, 0, 1, 90000, 100, 10**12, 10**12, 7200, 90000, "-"]]
    return keys, args


def test_the_merged_admission_script_decides_as_the_four_scripts_one_after_another(world: World) -> None:
    """A first request passes all four; a second with the same key meets the user's empty bucket and
    the busy claim, whichever way it is sent."""
    redis = Redis.from_url(world.redis_url)
    try:
        merged, single = f"m{uuid.uuid4().hex}", f"s{uuid.uuid4().hex}"
        for _ in range(2):
            keys, args = admission(merged)
            got = redis.eval(MERGED.source, 10, *[k for ks in keys for k in ks], *[a for a_ in args for a in a_])
            keys, args = admission(single)
            expected = [redis.eval(script.source, len(ks), *ks, *a)[0]
                        for script, ks, a in zip((TAKE, TAKE, CLAIM, RESERVE), keys, args, strict=True)]
            assert got == expected
        assert expected == [1, 0, b"busy", b"ok"]
    finally:
        redis.close()


def test_the_floor_answers_202_only_with_its_record_on_the_private_topic(world: World) -> None:
    """One request: 202 with the api's answer shape, and one record on the floor's topic, which has
    the actions topic's partition count."""
    settings = world.settings()
    topic = create_floor_topic(settings)
    try:
        with TestClient(create_app(settings, topic)) as client:
            answer = client.post("/v1/actions/win-match/complete",
                                 headers={"Authorization": f"Bearer {uuid.uuid4().hex}",
                                          "Idempotency-Key": f"floor-{uuid.uuid4().hex}"})
        assert answer.status_code == 202
        assert answer.json()["status"] == "accepted" and answer.json()["points"] > 0
        consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                             "enable.auto.commit": False})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            assert len(partitions) == next(spec.partitions for spec in TOPICS if spec.name == ACTIONS)
            ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions]
        finally:
            consumer.close()
        assert sum(ends) == 1
    finally:
        delete_floor_topic(settings, topic)
