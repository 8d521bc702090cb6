"""Create the contract's topics and apply the SQL migrations; safe to run any number of times."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from projections.migrations import apply_migrations
from scoreboard.adapters.kafka_retry import kafka_error_of, retry_kafka
from scoreboard.adapters.kafka_security import librdkafka_config
from scoreboard.domain.topics import TOPICS
from scoreboard.settings import Settings

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, timeout_s: float = 30.0, security: Mapping[str, str] | None = None) -> list[str]:
    """Create the contract's missing topics; retried through a broker that is still starting.
    ``security`` is the librdkafka security configuration (``scoreboard.adapters.kafka_security``)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **(security or {})})
    existing = set(retry_kafka(lambda: admin.list_topics(timeout=timeout_s).topics, what="list topics"))
    wanted = [
        NewTopic(spec.name, num_partitions=spec.partitions, replication_factor=-1, config=dict(spec.config))
        for spec in TOPICS
        if spec.name not in existing
    ]
    created = []
    for topic in wanted:
        def create(topic: NewTopic = topic) -> bool:
            try:
                admin.create_topics([topic], request_timeout=timeout_s)[topic.topic].result()
            except KafkaException as exc:
                error = kafka_error_of(exc)
                if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    return False  # a peer was faster (or an earlier attempt landed)
                raise
            return True

        if retry_kafka(create, what=f"create topic {topic.topic}"):
            created.append(topic.topic)
    if created:
        log.info("created topics %s", created)
    return created


def provision(env: Mapping[str, str]) -> None:
    """Called by ``scoreboard stack up`` once Kafka, Postgres and Redis answer."""
    ensure_topics(env["SCOREBOARD_KAFKA_BOOTSTRAP"], security=librdkafka_config(Settings.from_env(env)))
    apply_migrations(env["SCOREBOARD_DATABASE_URL"])
