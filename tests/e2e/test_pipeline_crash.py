"""Invariants 2-5 under kill -9 and rebalances: every action counted exactly once, everywhere."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from devstack.ports import free_port
from devstack.worlds import World, isolated_world, topic_ends
from scoreboard.adapters.kafka_retry import retry_kafka
from scoreboard.domain.clock import to_micros
from scoreboard.domain.topics import ACTIONS, LEADERBOARD_CHANGES
from stream_app.chaos import STAGES
from testkit.system import Process, System
from testkit.waits import wait_until
from tests.support.inspect import (
    ledger_count,
    postgres_scores,
    pushed_boards,
    redis_order,
    wait_redis_caught_up,
)
from tests.support.reference import Reference
from tests.support.suite import LOAD_ENV
from tests.support.workload import actions_with_duplicates, produce

pytestmark = pytest.mark.e2e
CHUNK = 50
# The stream crosses midnight UTC on a Sunday, so daily and weekly windows roll over mid-test.
START = to_micros(datetime(2026, 11, 29, 23, 59, 58, tzinfo=UTC))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture()
def world() -> Iterator[World]:
    with isolated_world() as w:
        yield w


def workers_system(world: World) -> System:
    env = world.env | LOAD_ENV | {"SCOREBOARD_BATCH_WAIT_SECONDS": "0.05", "SCOREBOARD_BATCH_SIZE": "200",
                       "SCOREBOARD_WORKER_SESSION_TIMEOUT_SECONDS": "6"}
    return System(world, env)


def lag(world: World) -> int:
    """Actions not yet committed by the world's worker group."""
    admin = AdminClient({"bootstrap.servers": world.kafka_bootstrap})
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    ends = topic_ends(world.kafka_bootstrap, ACTIONS)
    request = ConsumerGroupTopicPartitions(world.env["SCOREBOARD_WORKER_ID"],
                                           [TopicPartition(ACTIONS, p) for p in ends])

    def committed_offsets() -> dict[int, int]:  # retried while the group coordinator moves or loads
        result = admin.list_consumer_group_offsets([request])
        return {tp.partition: max(tp.offset, 0) for tp in next(iter(result.values())).result().topic_partitions}

    committed = retry_kafka(committed_offsets, what="committed offsets of the worker group")
    return sum(ends[p] - committed.get(p, 0) for p in ends)


def produce_in_background(world: World, events: list, pause_s: float = 0.3) -> threading.Thread:  # type: ignore[type-arg]
    thread = threading.Thread(target=lambda: asyncio.run(
        produce(world.kafka_bootstrap, events, chunk=50, pause_s=pause_s)), daemon=True)
    thread.start()
    return thread


def assert_everything_matches(world: World, reference: Reference, since: dict[int, int], system: System) -> None:
    """Postgres, Redis and the last pushed top 10 equal the reference model, for our users (other
    tests may append to the shared actions topic at the same time; their users are filtered out)."""
    boards = sorted(reference.scores)
    assert len(boards) == 5, boards  # global + two days + two ISO weeks
    ours = reference.users
    try:
        wait_until(lambda: postgres_scores(world.database_url, "global", ours) == reference.visible_scores("global"),
                   timeout_s=120, what="Postgres totals equal the reference")
    except AssertionError:
        actual = postgres_scores(world.database_url, "global", ours)
        diff = {u: (actual.get(u), s) for u, s in reference.scores["global"].items() if actual.get(u) != s}
        raise AssertionError(f"{len(diff)} users differ (actual, expected): {list(diff.items())[:20]}; "
                             f"ledger {ledger_count(world.database_url, ours)} of {reference.counted}"
                             f"\n{system.logs()[-3000:]}") from None
    assert ledger_count(world.database_url, ours) == reference.counted
    wait_redis_caught_up(world.database_url, world.redis_url, ours)  # the last batch's Redis write follows its commit
    for board in boards:
        assert postgres_scores(world.database_url, board, ours) == reference.visible_scores(board), board
        assert redis_order(world.redis_url, board, ours) == reference.top(board), board
    source = f"/scoreboard/worker/{world.env['SCOREBOARD_WORKER_ID']}"

    def pushed_matches() -> dict[str, object] | None:
        pushed = pushed_boards(world.kafka_bootstrap, since, source)
        for board in boards:
            if board not in pushed:
                return None
            shown = [(e.user_id, e.score) for e in pushed[board].entries if e.user_id in ours]
            if not shown or shown != reference.top(board)[:len(shown)]:
                return None
        return dict(pushed)

    wait_until(pushed_matches, timeout_s=30, what="the last pushed boards equal the reference top 10")


def has_processed_a_batch(worker: Process) -> bool:
    """The worker logged at least one finished batch (one JSON line per batch)."""
    return '"msg": "batch"' in worker.log_path.read_text(errors="replace")


def write_report(name: str, report: dict[str, object]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    print(f"\n{name}: {report}")


@pytest.mark.timeout(600)
def test_kill_9_of_the_worker_at_every_crash_point_loses_and_doubles_nothing(world: World, tmp_path: Path) -> None:
    """5,000 actions, 10% duplicate nonces; the worker dies twice at each crash point of a batch
    (after the ledger commit, after the Redis write, after the Kafka publish) and is SIGKILLed from
    outside four more times while actions are pending; it is restarted each time."""
    events = actions_with_duplicates(5000, 300, start_us=START, seed=11)
    reference = Reference().apply(events)
    since = topic_ends(world.kafka_bootstrap, LEADERBOARD_CHANGES)
    chaos_log = tmp_path / "crash-points.log"
    system = workers_system(world)
    plan = ",".join(STAGES * 2)
    # A static member must come back with the same web address: Faust's assignor checks it.
    chaos = {"SCOREBOARD_WORKER_INSTANCE_ID": "w1", "SCOREBOARD_WORKER_PORT": str(free_port()),
             "SCOREBOARD_CHAOS_PLAN": plan, "SCOREBOARD_CHAOS_LOG": str(chaos_log)}
    worker = system.start("worker", **chaos)
    # The stream is fed by this loop, a chunk whenever the worker has nearly caught up, so it lasts as
    # long as the crashes and kills need, however slow the machine (a timed stream could end first).
    chunks = [events[start:start + CHUNK] for start in range(0, len(events), CHUNK)]
    produced = 0
    external_kills: list[int] = []
    restarts = 0
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if worker.popen.poll() is not None:  # died at an injected crash point
                worker, restarts = system.start("worker", **chaos), restarts + 1
                continue
            plan_done = len(chaos_log.read_text().split()) >= len(STAGES) * 2 if chaos_log.exists() else False
            pending = lag(world)
            if plan_done and pending > 0 and len(external_kills) < 4 and has_processed_a_batch(worker):
                worker.stop(signal.SIGKILL)  # from outside, in the middle of its work
                external_kills.append(pending)
                worker, restarts = system.start("worker", **chaos), restarts + 1
                continue
            if produced < len(chunks) and pending <= CHUNK:
                asyncio.run(produce(world.kafka_bootstrap, [*chunks[produced]], chunk=CHUNK))
                produced += 1
                continue
            if pending == 0 and produced == len(chunks):
                break
            time.sleep(0.2)  # poll interval of the supervising loop
        worker.stop(signal.SIGKILL)
        system.start("worker", SCOREBOARD_WORKER_INSTANCE_ID="w1",  # a last clean run to finish
                     SCOREBOARD_WORKER_PORT=chaos["SCOREBOARD_WORKER_PORT"])
        assert produced == len(chunks), f"only {produced} of {len(chunks)} chunks produced before the deadline"
        assert_everything_matches(world, reference, since, system)
    finally:
        system.stop_all()
    hits = chaos_log.read_text().split() if chaos_log.exists() else []
    report = {"events": len(events), "counted": reference.counted, "restarts": restarts,
              "external_kill_9_with_pending_actions": len(external_kills),
              "injected_crashes": {stage: hits.count(stage) for stage in STAGES}}
    write_report("crash-kill9", report)
    assert len(external_kills) == 4
    assert all(hits.count(stage) == 2 for stage in STAGES), report


@pytest.mark.timeout(600)
def test_two_workers_with_a_rebalance_and_a_kill_mid_stream_stay_exact(world: World) -> None:
    """A second worker joins mid-stream (rebalance), then the first is SIGKILLed and later restarted."""
    events = actions_with_duplicates(5000, 300, start_us=START, seed=23)
    reference = Reference().apply(events)
    since = topic_ends(world.kafka_bootstrap, LEADERBOARD_CHANGES)
    system = workers_system(world)
    a = {"SCOREBOARD_WORKER_INSTANCE_ID": "a", "SCOREBOARD_WORKER_PORT": str(free_port())}
    first = system.start("worker", **a)
    producer = produce_in_background(world, events)
    try:
        wait_until(lambda: ledger_count(world.database_url, reference.users) > 0, timeout_s=60,
                   what="the first worker is consuming")
        system.start("worker", SCOREBOARD_WORKER_INSTANCE_ID="b")
        wait_until(lambda: ledger_count(world.database_url, reference.users) > 1500, timeout_s=60, what="progress")
        first.stop(signal.SIGKILL)
        wait_until(lambda: ledger_count(world.database_url, reference.users) > 3000, timeout_s=90,
                   what="the second worker takes over after the kill\n" + system.logs())
        system.start("worker", **a)
        producer.join(timeout=120)
        assert not producer.is_alive()
        assert_everything_matches(world, reference, since, system)
    finally:
        system.stop_all()
