"""Idempotency across crashes: an api that dies between accepting and Kafka's ack loses and doubles nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest
import redis

from producer_api.idempotency import event_id_for
from scoreboard.domain.clock import SystemClock
from scoreboard.domain.events import ActionCompleted
from testkit.system import System, wait_ready
from testkit.waits import wait_until
from tests.support.attacker import Caller, assert_problem
from tests.support.suite import running_system
from tests.support.workload import CATALOG, produce

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def crashable() -> Iterator[System]:
    """Short leases so a dead attempt is taken over within seconds, and a short wait for live ones."""
    with running_system({"SCOREBOARD_IDEMPOTENCY_LEASE_SECONDS": "2",
                         "SCOREBOARD_IDEMPOTENCY_WAIT_SECONDS": "1"}) as system:
        yield system


@pytest.fixture(scope="module")
def caller(crashable: System) -> Caller:
    return Caller(crashable.api_url, crashable.env["SCOREBOARD_JWT_SECRET"])


def leave_pending(system: System, user: str, key: str, lease_ms: int) -> None:
    """What a dead api leaves behind: a claimed key whose attempt never got its ack recorded."""
    record = {"event_id": event_id_for(user, key), "action_id": "win-match", "points": 100, "fp": key,
              "ack": False, "lease": lease_ms}
    redis.Redis.from_url(system.world.redis_url).set(f"sb:{{u:{user}}}:idem:{key}", json.dumps(record), ex=600)


def produce_as_the_dead_api_did(system: System, user: str, key: str) -> None:
    event = ActionCompleted(event_id=event_id_for(user, key), user_id=user, action_id="win-match", nonce=key,
                            points=100, catalog_version=CATALOG.version, occurred_at_us=SystemClock().now_us())
    asyncio.run(produce(system.world.kafka_bootstrap, [event]))


@pytest.mark.parametrize("produced_before_dying", [True, False])
def test_a_retry_after_the_api_died_mid_request_records_once(caller: Caller, crashable: System,
                                                             produced_before_dying: bool) -> None:
    """A pending key with an expired lease is taken over: the retry is 202 with the same event id, and
    whether or not the dead attempt reached Kafka, the score grows by one action."""
    user, key = f"dead-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex}"
    if produced_before_dying:
        produce_as_the_dead_api_did(crashable, user, key)
    leave_pending(crashable, user, key, lease_ms=0)
    retry = caller.complete(user, "win-match", key=key)
    assert retry.status_code == 202, retry.text
    assert retry.json()["event_id"] == event_id_for(user, key)
    caller.settle()
    assert caller.score(user) == 100


def test_a_duplicate_of_a_live_attempt_waits_then_answers_409_in_progress(caller: Caller, crashable: System) -> None:
    """While another attempt holds a live lease, a duplicate waits briefly, then is told to retry; no event."""
    user, key = f"live-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex}"
    leave_pending(crashable, user, key, lease_ms=10**13 * 100)
    response = caller.complete(user, "win-match", key=key)
    assert_problem(response, 409, "request-in-progress")
    assert response.headers["Retry-After"] == "1"
    caller.settle()
    assert caller.score(user) is None


def test_kill_9_of_the_api_mid_requests_then_retries_count_every_action_exactly_once(
        caller: Caller, crashable: System) -> None:
    """SIGKILL the api while 24 completions are in flight, restart it, retry every key until it answers 2xx:
    each user ends with exactly one action's points and each answer carries its deterministic event id."""
    run = uuid.uuid4().hex[:6]
    jobs = [(f"crash-{run}-{n}", f"key-{run}-{n:04d}") for n in range(24)]
    api = next(p for p in crashable.processes if p.role == "api")

    def fire(job: tuple[str, str]) -> int:
        try:
            return caller.complete(job[0], "win-match", key=job[1]).status_code
        except httpx.HTTPError:
            return 0

    with ThreadPoolExecutor(24) as pool:
        futures = [pool.submit(fire, job) for job in jobs]
        wait_until(lambda: any(f.done() for f in futures), timeout_s=30, interval_s=0.005, what="first answer")
        api.stop(signal.SIGKILL)
        first_round = [f.result() for f in futures]
    assert api.popen.returncode == -signal.SIGKILL
    wait_ready(crashable.start("api"))

    def retried(job: tuple[str, str]) -> httpx.Response | None:
        response = caller.complete(job[0], "win-match", key=job[1])
        return response if response.status_code in (200, 202) else None

    answers = [wait_until(partial(retried, job), timeout_s=30, interval_s=0.2, what=f"retry of {job}")
               for job in jobs]
    assert [a.json()["event_id"] for a in answers] == [event_id_for(user, key) for user, key in jobs]
    caller.settle()
    assert {user: caller.score(user) for user, _ in jobs} == {user: 100 for user, _ in jobs}, first_round
