"""Invariant 9: no single record stops a partition.

With the real api, worker and gateway processes: an admin adjustment that reuses a user's
Idempotency-Key is counted (admin event ids have their own namespace), and a record that makes the
pipeline fail (its event id is already in the ledger under another user, which violates
``ledger.event_id UNIQUE``) is set aside to ``scoreboard.rejected.v1`` with reason ``poison`` while
the records after it on its partition are counted; a rebuild from the log sets it aside the same way.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from devstack.worlds import topic_ends
from producer_api.appender import partition_for
from scoreboard.adapters import codec
from scoreboard.domain.events import ActionCompleted, RejectedAction
from scoreboard.domain.topics import ACTIONS, REJECTED
from scoreboard.settings import Settings
from stream_app.rebuild import rebuild
from testkit.system import Process, System
from testkit.waits import wait_until
from tests.support.client import ApiClient
from tests.support.inspect import postgres_scores
from tests.support.suite import running_system
from tests.support.topic_reader import records_since
from tests.support.workload import action, produce

pytestmark = pytest.mark.e2e


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def same_partition_as(user: str, bootstrap: str, prefix: str) -> str:
    """Another user whose records land on ``user``'s partition of the actions topic."""
    partitions = len(topic_ends(bootstrap, ACTIONS))
    target = partition_for(user.encode(), partitions)
    return next(name for name in (fresh(prefix) for _ in range(10_000))
                if partition_for(name.encode(), partitions) == target)


def rejections(database_url: str, user: str) -> list[tuple[int, int, str, str]]:
    with psycopg.connect(database_url) as conn:
        return [(int(p), int(o), str(e), str(r)) for p, o, e, r in conn.execute(
            "SELECT kafka_partition, kafka_offset, event_id, reason FROM rejections WHERE user_id = %s"
            " ORDER BY kafka_partition, kafka_offset", (user,))]


def ledger_ids(database_url: str, users: set[str]) -> list[tuple[str, str, str]]:
    with psycopg.connect(database_url) as conn:
        return [(str(e), str(u), str(n)) for e, u, n in conn.execute(
            "SELECT event_id, user_id, nonce FROM ledger WHERE user_id = ANY(%s) ORDER BY event_id",
            (sorted(users),))]


def poison_count(worker: Process) -> float:
    text = httpx.get(worker.url + "/metrics", timeout=10).text
    found = re.search(r"^scoreboard_worker_poison_records_total ([0-9.e+]+)$", text, re.MULTILINE)
    assert found, text
    return float(found[1])


def worker_of(system: System) -> Process:
    return next(p for p in system.processes if p.role == "worker")


def test_an_admin_adjustment_reusing_a_users_key_is_counted_and_the_partition_goes_on(system: System) -> None:
    """The user's completion and the admin's adjustment share an Idempotency-Key: two event ids, both
    counted, and the user's and a neighbour's later actions on that partition are counted too."""
    api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
    user, admin = fresh("victim"), fresh("admin")
    neighbour = same_partition_as(user, system.world.kafka_bootstrap, "neighbour")
    key = f"shared-{uuid.uuid4().hex[:12]}"
    completed = api.complete(user, "complete-level", key=key)
    assert completed.status_code == 202, completed.text
    adjusted = api.http.post(f"/v1/admin/users/{user}/adjustments",
                             headers={"Authorization": f"Bearer {api.token(admin, roles=('admin',))}",
                                      "Idempotency-Key": key},
                             json={"delta": 7, "reason": "goodwill for a bugged level"})
    assert adjusted.status_code == 202, adjusted.text
    assert adjusted.json()["event_id"] != completed.json()["event_id"], "admin ids have their own namespace"
    for who, what in ((user, "win-match"), (neighbour, "complete-level")):
        response = api.complete(who, what)
        assert response.status_code == 202, response.text

    expected = {user: 50 + 7 + 100, neighbour: 50}
    wait_until(lambda: postgres_scores(system.world.database_url, "global", set(expected)) == expected,
               timeout_s=60, what=f"scores {expected}\n{system.logs()}")
    wait_until(lambda: all((api.rank(u) or {}).get("score") == s for u, s in expected.items()), timeout_s=30,
               what="the boards in Redis")
    assert rejections(system.world.database_url, user) == []
    assert worker_of(system).popen.poll() is None


def test_a_record_that_crashes_the_pipeline_is_set_aside_and_later_records_are_processed() -> None:
    """The poison record is set aside once (rejected topic, ``rejections`` table, metric), the worker
    never restarts, the records after it are counted, and a rebuild from the log reaches the same state."""
    with running_system() as system:
        world = system.world
        api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
        worker = worker_of(system)
        # all three on one partition: which of two records with one event id comes first is then the
        # log's order, the same live and in a rebuild (partitions may interleave differently in each)
        owner = fresh("owner")
        intruder = same_partition_as(owner, world.kafka_bootstrap, "intruder")
        neighbour = same_partition_as(owner, world.kafka_bootstrap, "neighbour")
        completed = api.complete(owner, "complete-level")
        assert completed.status_code == 202, completed.text
        taken_id = completed.json()["event_id"]
        wait_until(lambda: ledger_ids(world.database_url, {owner}), timeout_s=60,
                   what=f"the owner's action counted\n{system.logs()}")
        actions_since = topic_ends(world.kafka_bootstrap, ACTIONS)
        rejected_since = topic_ends(world.kafka_bootstrap, REJECTED)
        before = poison_count(worker)

        now = time.time_ns() // 1000
        poison = action(intruder, 10, now, event_id=taken_id)  # same event id, another user and nonce
        keyring = Settings.from_env(system.env).event_keyring()
        asyncio.run(produce(world.kafka_bootstrap, [poison], keyring=keyring))
        # produced only once the poison record is acknowledged: these come after it in the log
        later = [action(intruder, 20, now + 1), action(neighbour, 30, now + 2)]
        asyncio.run(produce(world.kafka_bootstrap, list(later), keyring=keyring))

        expected = {intruder: 20, neighbour: 30, owner: 50}
        wait_until(lambda: postgres_scores(world.database_url, "global", set(expected)) == expected,
                   timeout_s=60, what=f"the records after the poison one counted {expected}\n{system.logs()}")
        [(partition, offset)] = [
            (p, o) for p, o, key, event in _actions_with_positions(world.kafka_bootstrap, actions_since)
            if key == intruder and isinstance(event, ActionCompleted) and event.event_id == taken_id]
        [row] = wait_until(lambda: rejections(world.database_url, intruder), timeout_s=30,
                           what="the poison record in the rejections table")
        assert row[:3] == (partition, offset, taken_id)
        assert row[3].startswith("poison: UniqueViolation: "), row
        ours = f"/scoreboard/worker/{system.env['SCOREBOARD_WORKER_ID']}".encode()
        announced = [e for k, e, headers in records_since(world.kafka_bootstrap, rejected_since, REJECTED)
                     if k == intruder and headers.get("ce_source") == ours]  # other worlds' workers share topics
        assert [(type(e), e.event_id, e.source_partition, e.source_offset) for e in announced] == [
            (RejectedAction, taken_id, partition, offset)]
        assert announced[0].reason == row[3]
        assert poison_count(worker) - before >= 1  # other test runs' poison records may be counted too
        assert worker.popen.poll() is None and "exiting before any commit" not in worker.log_tail(400)
        assert httpx.get(worker.url + "/readyz", timeout=10).status_code == 200
        users = {owner, intruder, neighbour}
        live = (ledger_ids(world.database_url, users), rejections(world.database_url, intruder),
                postgres_scores(world.database_url, "global", users))
        assert taken_id not in [e for e, u, _ in live[0] if u == intruder]

        worker.stop()
        report = asyncio.run(rebuild(Settings.from_env(system.env), start_offsets=world.start_offsets,
                                     progress=False))
        assert report.events >= 4
        rebuilt = (ledger_ids(world.database_url, users), rejections(world.database_url, intruder),
                   postgres_scores(world.database_url, "global", users))
        assert [r[:3] for r in rebuilt[1]] == [r[:3] for r in live[1]]
        assert rebuilt[1][0][3].startswith("poison: UniqueViolation: ")
        assert (rebuilt[0], rebuilt[2]) == (live[0], live[2])


def _actions_with_positions(bootstrap: str, since: dict[int, int]) -> list[tuple[int, int, str, object]]:
    """(partition, offset, key, event) of the actions written after ``since``."""
    ends = topic_ends(bootstrap, ACTIONS)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"poison-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    found: list[tuple[int, int, str, object]] = []
    try:
        pending = {p for p in ends if ends[p] > since.get(p, 0)}
        consumer.assign([TopicPartition(ACTIONS, p, since.get(p, 0)) for p in pending])
        while pending:
            message = consumer.poll(30)  # the records are there (pending): only a slow first fetch waits
            assert message is not None, f"no record within 30 s, still waiting on {pending}"
            partition, offset = message.partition(), message.offset()
            if message.error() or partition is None or offset is None:
                continue
            found.append((partition, offset, (message.key() or b"").decode(), codec.decode(message.value() or b"")))
            if offset + 1 >= ends[partition]:
                pending.discard(partition)
    finally:
        consumer.close()
    return found
