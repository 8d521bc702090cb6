"""A Faust worker configured like the real one (``stream_app.bootstrap.create_worker_app``: the same
broker, ``broker_credentials=faust_credentials(settings)``, guarantees and serializers) whose one agent
appends every record of a topic, one per line, to a file. Run as
``python -m tests.support.faust_probe TOPIC OUT`` with the ``SCOREBOARD_*`` settings in the
environment; the caller waits for the line it expects in OUT, then stops the worker.

A record received proves the consumer, the group's join and the admin client that declares
Faust's internal topics all got through the broker's authentication.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import faust

from scoreboard.adapters.kafka_security import faust_credentials
from scoreboard.settings import Settings


def create_probe_app(settings: Settings, topic_name: str, out: Path) -> faust.App:
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        processing_guarantee="at_least_once",
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        topic_replication_factor=1,
        store="memory://",
        web_enabled=False,
        autodiscover=False,
    )
    topic = app.topic(topic_name, value_type=bytes, key_type=bytes, value_serializer="raw",
                      key_serializer="raw", internal=False)

    @app.agent(topic)
    async def record_values(stream: faust.StreamT[bytes]) -> AsyncIterator[bytes]:
        async for value in stream:
            with out.open("ab") as handle:
                handle.write(value + b"\n")
            yield value

    return app


def main() -> None:
    topic_name, out = sys.argv[1], Path(sys.argv[2])
    app = create_probe_app(Settings.from_env(), topic_name, out)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
