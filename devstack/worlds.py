"""Isolated worlds on the shared local stack, for tests and benchmarks.

A world has its own Postgres database, its own Redis database and its own worker group, which starts
at the current end of the actions topic, so its worker sees only what is produced from then on. The
Kafka topics are shared (their names are the contract); board versions are time-based, so worlds'
LeaderboardChanged records stay comparable, and a world's gateways follow only its own workers.
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
from scoreboard.adapters.kafka_retry import commit_offsets, end_offsets
from scoreboard.domain.topics import ACTIONS
from scoreboard.runtime.provision import ensure_topics
from scoreboard.settings import Settings, merged_environment

_CLAIM = "world:claim"


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

    def settings(self) -> Settings:
        return Settings.from_env(self.env)


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def topic_ends(bootstrap: str, topic: str = ACTIONS) -> dict[int, int]:
    """The end offset of every partition of ``topic``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        return end_offsets(consumer, topic)
    finally:
        consumer.close()


def start_group_at_end(bootstrap: str, group_id: str) -> dict[int, int]:
    """Commit the actions topic's current end offsets for a new consumer group; returns them."""
    ends = topic_ends(bootstrap)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        commit_offsets(consumer, [TopicPartition(ACTIONS, p, o) for p, o in ends.items()])
    finally:
        consumer.close()
    return ends


def claim_redis_db(base_url: str, owner: str) -> str:
    """An unused Redis database of its own (concurrent runs must not flush each other's)."""
    count = int(redis.Redis.from_url(base_url).config_get("databases")["databases"] or 16)
    candidates = list(range(1, count))
    random.shuffle(candidates)
    for index in candidates:
        url = _with_path(base_url, f"/{index}")
        client = redis.Redis.from_url(url)
        if client.dbsize() == 0 and client.set(_CLAIM, owner, nx=True):
            return url
    raise RuntimeError(f"no free Redis database among {count}")


@contextmanager
def isolated_world(prefix: str = "w") -> Iterator[World]:
    """Create a world on the stack of ``scoreboard stack up``; everything of it is dropped after."""
    base = merged_environment()
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin_url = base["SCOREBOARD_DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = _with_path(admin_url, "/" + name)
    redis_url = claim_redis_db(base["SCOREBOARD_REDIS_URL"], name)
    try:
        apply_migrations(database_url)
        ensure_topics(base["SCOREBOARD_KAFKA_BOOTSTRAP"])
        worker_id = f"scoreboard-worker-{name}"
        env = {k: v for k, v in base.items() if k.startswith("SCOREBOARD_")}
        env |= {
            "SCOREBOARD_DATABASE_URL": database_url,
            "SCOREBOARD_REDIS_URL": redis_url,
            "SCOREBOARD_WORKER_ID": worker_id,
            "SCOREBOARD_GATEWAY_SOURCES": f"/scoreboard/worker/{worker_id},/scoreboard/rebuild/{worker_id}",
        }
        start = start_group_at_end(base["SCOREBOARD_KAFKA_BOOTSTRAP"], worker_id)
        yield World(env=env, name=name, start_offsets=start)
    finally:
        redis.Redis.from_url(redis_url).flushdb()
        drop_database(admin_url, name)


def drop_database(admin_url: str, name: str, attempts: int = 5) -> None:
    """Drop database ``name``, ending the sessions still in it.

    ``WITH (FORCE)`` ends other sessions only if this role may signal each of them. An autovacuum
    worker busy in the database (likely right after a test wrote thousands of rows) runs under no
    role, so for a role that is not a superuser (the stack's ``scoreboard``) the drop fails with
    InsufficientPrivilege. Then this role's own sessions are ended and a plain ``DROP DATABASE`` runs:
    it stops an autovacuum worker in the database itself, and waits (up to 5 s) for the ended sessions
    to go."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            pass
        for attempt in range(attempts):
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                         " AND usename = current_user AND pid <> pg_backend_pid()", (name,))
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise
