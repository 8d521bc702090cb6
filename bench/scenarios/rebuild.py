"""rebuild: events per second replayed into empty projections by ``stream_app.rebuild.rebuild``.

The events are priced by the load-test catalog and signed as the api signs them (so the replay
verifies and judges each one, as a real rebuild does), and produced straight to the actions topic
with a tight confluent-kafka loop (linger, lz4, large batches), after the world's start offsets,
then replayed from those offsets into the world's own (empty) Postgres database and Redis db by the
rebuild's default number of replay processes (recorded as ``workers``). The
actions topic is shared with every other world on the stack and every live worker reads it, so the
scenario waits for other sessions' workers to stop before it appends a million events, and measures
fewer when they do not.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from tqdm import tqdm

from bench.system import RAISED_LIMITS
from devstack.worlds import isolated_world
from producer_api.appender import partition_for
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.domain.catalog import load_catalog
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.signing import SigningKeyring
from scoreboard.domain.topics import ACTIONS
from scoreboard.settings import Settings
from stream_app.rebuild import default_workers, rebuild

REDUCED_EVENTS = 100_000


def live_worker_groups(bootstrap: str) -> list[str]:
    """Consumer groups of scoreboard workers with live members (other sessions' worlds, a dev stack)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups(request_timeout=10).result()
    names = [g.group_id for g in listed.valid if g.group_id.startswith("scoreboard-worker")]
    if not names:
        return []
    live = []
    for name, future in admin.describe_consumer_groups(names, request_timeout=10).items():
        try:
            if future.result().members:
                live.append(name)
        except Exception:  # noqa: BLE001 - a group that vanished meanwhile is not live
            continue
    return live


def produce_events(bootstrap: str, keyring: SigningKeyring, count: int, users: int = 10_000,
                   progress: bool = True) -> float:
    """Append ``count`` distinct signed ActionCompleted events; returns the seconds it took."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 50, "batch.size": 1_000_000, "compression.type": "lz4",
                         "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
                         "client.id": "bench-rebuild"})
    run = uuid.uuid4().hex[:6]
    names = [f"rb{i:05d}-{run}" for i in range(users)]
    catalog = load_catalog(RAISED_LIMITS["SCOREBOARD_ACTIONS_FILE"])
    action = catalog.actions["win-match"]
    partitions = len(producer.list_topics(ACTIONS, timeout=10).topics[ACTIONS].partitions)
    started = time.perf_counter()
    at = time.time_ns() // 1000
    bar = tqdm(total=count, unit="ev", desc="produce", disable=not progress, leave=False)
    for i in range(count):
        user = names[i % users]
        event = ActionCompleted(f"{run}-{i}", user, action.action_id, f"n{run}{i}", action.points, catalog.version,
                                at + i)
        key, value = user.encode(), codec.encode(event)
        partition = partition_for(key, partitions)
        headers = keyring.sign(ACTIONS, partition, key, value,
                               cloud_event_headers(event.event_id, "ActionCompleted", "/bench", event.occurred_at_us))
        while True:
            try:
                producer.produce(ACTIONS, key=key, value=value, headers=list(headers), partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
            bar.update(10_000 if i else 1)
    left = producer.flush(120)
    bar.close()
    if left:
        raise RuntimeError(f"{left} rebuild events were not acknowledged by Kafka")
    return time.perf_counter() - started


def run(events: int, tick: Callable[[str], None], wait_for_workers_s: float = 90) -> dict[str, object]:
    with isolated_world() as world:
        deadline = time.monotonic() + wait_for_workers_s
        live = live_worker_groups(world.kafka_bootstrap)
        while live and time.monotonic() < deadline:
            tick(f"waiting for {len(live)} other worker group(s) to stop")
            time.sleep(5)
            live = live_worker_groups(world.kafka_bootstrap)
        measured = REDUCED_EVENTS if live and events > REDUCED_EVENTS else events
        settings = Settings.from_env(world.env | RAISED_LIMITS)
        produce_s = produce_events(world.kafka_bootstrap, settings.event_keyring(), measured)
        workers = default_workers()
        report = asyncio.run(rebuild(settings, start_offsets=world.start_offsets, progress=True, workers=workers))
        with psycopg.connect(world.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM ledger").fetchone()
        result: dict[str, object] = {
            "events": report.events,
            "events_per_s": round(report.events_per_second),
            "seconds": round(report.seconds, 1),
            "requested": events,
            "ledger_rows": int(row[0]) if row else 0,
            "produce_events_per_s": round(measured / produce_s),
            "workers": workers,
        }
        if measured != events:
            result["reduced_because"] = f"other workers were live on the shared actions topic: {', '.join(live)}"
        return result
