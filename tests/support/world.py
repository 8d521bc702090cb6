"""An isolated world on the shared stack: its own Postgres database, Redis db and worker group.

Kafka topics are shared (their names are the contract), but a world's worker group starts at the
current end of the actions topic; board versions are time-based, so the worlds' LeaderboardChanged
records stay comparable and the newest world's boards win.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from confluent_kafka import Consumer, TopicPartition

from projections.migrations import apply_migrations
from scoreboard.provision import ensure_topics
from scoreboard.settings import merged_environment
from scoreboard.topics import ACTIONS


_CLAIM = "test:world-claim"


@dataclass(frozen=True)
class World:
    env: dict[str, str]
    name: str
    start_offsets: dict[int, int]

    @property
    def database_url(self) -> str:
        return self.env["SCOREBOARD_DATABASE_URL"]

    @property
    def redis_url(self) -> str:
        return self.env["SCOREBOARD_REDIS_URL"]

    @property
    def kafka_bootstrap(self) -> str:
        return self.env["SCOREBOARD_KAFKA_BOOTSTRAP"]


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def start_group_at_end(bootstrap: str, group_id: str) -> dict[int, int]:
    """Commit the actions topic's current end offsets for a new consumer group, so a world's worker
    sees only the actions of its own test run, not the whole history of a long-lived dev stack."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(ACTIONS, timeout=10)
        offsets = []
        for partition in metadata.topics[ACTIONS].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(ACTIONS, partition), timeout=10)
            offsets.append(TopicPartition(ACTIONS, partition, high))
        consumer.commit(offsets=offsets, asynchronous=False)
        return {tp.partition: tp.offset for tp in offsets}
    finally:
        consumer.close()


def claim_redis_db(base_url: str, owner: str) -> str:
    """An unused Redis database of its own (concurrent test runs must not flush each other's)."""
    count = int(redis.Redis.from_url(base_url).config_get("databases")["databases"])
    candidates = list(range(1, count))
    random.shuffle(candidates)
    for index in candidates:
        url = _with_path(base_url, f"/{index}")
        client = redis.Redis.from_url(url)
        if client.dbsize() == 0 and client.set(_CLAIM, owner, nx=True):
            return url
    raise RuntimeError(f"no free Redis database among {count}")


@contextmanager
def isolated_world() -> Iterator[World]:
    base = merged_environment()
    name = f"t{uuid.uuid4().hex[:10]}"
    admin_url = base["SCOREBOARD_DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = _with_path(admin_url, "/" + name)
    redis_url = claim_redis_db(base["SCOREBOARD_REDIS_URL"], name)
    apply_migrations(database_url)
    ensure_topics(base["SCOREBOARD_KAFKA_BOOTSTRAP"])
    env = {k: v for k, v in base.items() if k.startswith("SCOREBOARD_")}
    env |= {
        "SCOREBOARD_DATABASE_URL": database_url,
        "SCOREBOARD_REDIS_URL": redis_url,
        "SCOREBOARD_WORKER_ID": f"scoreboard-worker-{name}",
        # gateways of this world follow only its own workers (and rebuilds), not other worlds' boards
        "SCOREBOARD_GATEWAY_SOURCES": f"/scoreboard/worker/scoreboard-worker-{name},/scoreboard/rebuild",
    }
    start = start_group_at_end(base["SCOREBOARD_KAFKA_BOOTSTRAP"], env["SCOREBOARD_WORKER_ID"])
    try:
        yield World(env=env, name=name, start_offsets=start)
    finally:
        redis.Redis.from_url(redis_url).flushdb()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
