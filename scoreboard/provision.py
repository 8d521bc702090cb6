"""Create the contract's topics and apply the SQL migrations; safe to run any number of times."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from projections.migrations import apply_migrations
from scoreboard.topics import TOPICS

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, timeout_s: float = 30.0) -> list[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(spec.name, num_partitions=spec.partitions, replication_factor=-1, config=dict(spec.config))
        for spec in TOPICS
        if spec.name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == 36:  # TOPIC_ALREADY_EXISTS: a peer was faster
                continue
            raise
    log.info("created topics %s", created)
    return created


def provision(env: Mapping[str, str]) -> None:
    """Called by ``scoreboard stack up`` once Kafka, Postgres and Redis answer."""
    ensure_topics(env["SCOREBOARD_KAFKA_BOOTSTRAP"])
    apply_migrations(env["SCOREBOARD_DATABASE_URL"])
