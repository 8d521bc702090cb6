"""Kafka, Postgres and Redis from testcontainers, used instead of the local stack when a Docker engine
answers (``SCOREBOARD_TESTCONTAINERS=0`` turns it off). Not exercised on machines without Docker."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

ACTIVE = "SCOREBOARD_TESTCONTAINERS_ACTIVE"


def docker_available() -> bool:
    if os.environ.get("SCOREBOARD_TESTCONTAINERS", "1") == "0":
        return False
    try:
        import docker

        return bool(docker.from_env(timeout=3).ping())
    except Exception:  # no client library, no socket, no engine: all mean "use the local stack"
        return False


@contextmanager
def container_stack() -> Iterator[dict[str, str]]:
    """Start the three services, provision them, and yield the SCOREBOARD_* environment to use."""
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    from scoreboard.runtime.provision import provision

    with ExitStack() as stack:
        kafka = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:8.0.0").with_kraft())
        postgres = stack.enter_context(PostgresContainer("postgres:16", driver=None))
        redis = stack.enter_context(RedisContainer("redis:7"))
        env = {
            "SCOREBOARD_KAFKA_BOOTSTRAP": kafka.get_bootstrap_server(),
            "SCOREBOARD_DATABASE_URL": postgres.get_connection_url(),
            "SCOREBOARD_REDIS_URL": f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
            "SCOREBOARD_JWT_SECRET": secrets.token_urlsafe(48),
            "SCOREBOARD_TICKET_SECRET": secrets.token_urlsafe(48),
            ACTIVE: "1",
        }
        provision(env)
        yield env
