"""The abuse defences, attacked as an outsider would, against the shipped catalog and default limits.

Each test asserts the status codes and that no score changed beyond what the catalog allows: the api
refuses early (rate limits, cooldowns, caps, budgets, open tickets), and the worker judges every
record again from the log (signatures, the catalog's points and bounds), so a flushed Redis or a
record written straight to Kafka changes nothing either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from devstack.worlds import topic_ends
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.domain.catalog import DEFAULT_CATALOG, load_catalog
from scoreboard.domain.clock import SystemClock
from scoreboard.domain.events import ActionCompleted, RejectedAction
from scoreboard.domain.topics import ACTIONS, REJECTED
from scoreboard.settings import Settings
from testkit.system import System
from testkit.waits import wait_until
from tests.support.attacker import Caller, assert_problem
from tests.support.client import complete_until_decided
from tests.support.suite import running_system
from tests.support.topic_reader import records_since
from tests.support.utc_day import clear_of_utc_midnight

pytestmark = pytest.mark.e2e
SHIPPED = load_catalog(DEFAULT_CATALOG)
DEFAULTS = Settings()


@pytest.fixture(scope="module")
def shipped() -> Iterator[System]:
    """The shipped catalog and the default per-user rate limits (the load-test overrides undone)."""
    with running_system({
        "SCOREBOARD_ACTIONS_FILE": str(DEFAULT_CATALOG),
        "SCOREBOARD_RATE_USER_PER_SECOND": str(DEFAULTS.rate_user_per_second),
        "SCOREBOARD_RATE_USER_BURST": str(DEFAULTS.rate_user_burst),
    }) as system:
        yield system


@pytest.fixture(scope="module")
def caller(shipped: System) -> Caller:
    return Caller(shipped.api_url, shipped.env["SCOREBOARD_JWT_SECRET"])


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def hammer(caller: Caller, user: str, actions: list[str], threads: int = 32) -> list[int]:
    """Post one completion per entry of ``actions`` with fresh keys, ``threads`` at a time."""
    token = caller.token(user)
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda action: caller.complete(user, action, token=token).status_code, actions))


def human_bound(elapsed_s: float, actions: list[str]) -> int:
    """The most points the shipped catalog lets one user earn within ``elapsed_s`` from these actions."""
    total = 0
    for action_id in set(actions):
        action = SHIPPED.actions[action_id]
        if action.requires_ticket and elapsed_s < action.min_duration_seconds:
            continue
        times = action.daily_cap or 10**9
        if action.cooldown_seconds:
            times = min(times, 1 + int(elapsed_s // action.cooldown_seconds))
        total += times * action.points
    return min(total, SHIPPED.limits.max_points_per_hour)


def test_a_farming_bot_gains_no_more_than_a_human_could(caller: Caller) -> None:
    """1,000 win-match and then 300 mixed completions from one token: everything beyond the first
    win-match (and what the refilled rate limit lets through once) is 429, and the score stays within
    what the catalog allows a human in that time."""
    clear_of_utc_midnight()  # one daily-login a day: a second one after midnight would be a fourth 202
    clock = SystemClock()
    started = clock.now_us()
    user = fresh("farmer")
    statuses = hammer(caller, user, ["win-match"] * 1000)
    mixed = ["win-match", "complete-level", "daily-login"] * 100
    statuses += hammer(caller, user, mixed)
    elapsed_s = (clock.now_us() - started) / 1e6
    assert 1 <= statuses.count(202) <= 3, {s: statuses.count(s) for s in set(statuses)}
    assert set(statuses) == {202, 429}
    caller.settle()
    review = review_of(caller, user)
    score = review["score"] if review else caller.score(user) or 0
    assert 100 <= score <= 100 + 50 + 5
    assert score <= human_bound(elapsed_s, ["win-match", *mixed])
    if statuses.count(202) > 1:  # its next accepted action carried the refusals before it: the prober flags it
        assert review is not None and review["detector"] == "prober" and review["status"] == "pending"
        assert caller.score(user) is None  # off the public board while under review


def review_of(caller: Caller, user: str) -> dict[str, Any] | None:
    """The user's latest review, as moderators see it (None: never flagged)."""
    answer = caller.http.get("/v1/admin/reviews", params={"status": "all", "limit": 500},
                             headers={"Authorization": f"Bearer {caller.token('moderator', roles=('admin',))}"})
    answer.raise_for_status()
    return next((r for r in answer.json()["reviews"] if r["user_id"] == user), None)


def test_a_script_hammering_the_rules_is_flagged_by_its_refusals_within_a_minute(caller: Caller) -> None:
    """110 refused attempts (the shipped threshold is 50), then an action the rules allow: accepted, and
    the prober detector puts the user under review at once: off the board, the evidence names the refusals."""
    user = fresh("prober")
    assert caller.complete(user, "win-match").status_code == 202
    statuses = hammer(caller, user, ["win-match"] * 110, threads=8)
    assert statuses.count(429) == 110
    answer = wait_until(lambda: ok(caller.complete(user, "complete-level")), timeout_s=30,
                        what="the rate limit lets one more through")
    assert answer.status_code == 202
    review = wait_until(lambda: review_of(caller, user), timeout_s=30, what="the user is flagged")
    assert review["detector"] == "prober" and review["evidence"]["user"] >= 110
    assert caller.score(user) is None


def ok(response: httpx.Response) -> httpx.Response | None:
    return response if response.status_code == 202 else None


def test_a_burst_of_400_completions_meets_429s(caller: Caller) -> None:
    """400 completions in about a second by one user: beyond the burst of 20, every one is 429."""
    user = fresh("burst")
    statuses = hammer(caller, user, ["complete-level"] * 400, threads=16)
    assert statuses.count(429) >= 400 - DEFAULTS.rate_user_burst
    assert statuses.count(202) == 1  # the cooldown refuses the rest of those the rate limit let through


def test_fifty_parallel_starts_give_one_ticket(caller: Caller) -> None:
    """One open ticket per (user, action): one 201, every other start 409 ticket-open or 429."""
    user = fresh("starter")
    token = caller.token(user)
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: caller.post("/v1/actions/boss-fight/start", token, key=None),
                                range(50)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409, 429}
    refused = next(a for a in answers if a.status_code == 409)
    assert_problem(refused, 409, "ticket-open")
    assert int(refused.headers["Retry-After"]) >= SHIPPED.actions["boss-fight"].min_duration_seconds


def raw_records_since(bootstrap: str, since: dict[int, int], user: str) -> list[Any]:
    """The raw records (key, value, headers, partition) of ``user`` written after ``since``."""
    ends = topic_ends(bootstrap)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    found = []
    try:
        pending = {p for p in ends if ends[p] > since.get(p, 0)}
        consumer.assign([TopicPartition(ACTIONS, p, since.get(p, 0)) for p in pending])
        while pending:
            message = consumer.poll(30)  # the records are there (pending): only a slow first fetch waits
            assert message is not None, "no record within 30 s"
            if message.error():
                continue
            if message.key() == user.encode():
                found.append(message)
            if (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                pending.discard(message.partition())
    finally:
        consumer.close()
    return found


def produce_raw(bootstrap: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]], int]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value, headers, partition in records:
        producer.produce(ACTIONS, key=key, value=value, headers=list(headers), partition=partition)
    assert producer.flush(30) == 0


def test_records_written_straight_to_kafka_are_not_trusted(caller: Caller, shipped: System) -> None:
    """An unsigned 10^12-point event, a genuine record copied under another key and onto another
    partition, a NUL key, a year-10000 time and an unknown schema: all rejected, none scores, and an
    honest user's action after them is counted."""
    bootstrap = shipped.world.kafka_bootstrap
    victim, thief, honest = fresh("victim"), fresh("thief"), fresh("honest")
    since = topic_ends(bootstrap)
    rejected_since = topic_ends(bootstrap, REJECTED)
    assert caller.complete(victim, "win-match").status_code == 202
    genuine = wait_until(lambda: raw_records_since(bootstrap, since, victim), what="the victim's record")[0]
    partitions = len(since)
    now = SystemClock().now_us()
    forged = ActionCompleted(str(uuid.uuid4()), thief, "win-match", f"n-{uuid.uuid4().hex}", 10**12,
                             SHIPPED.version, now)
    forged_value = codec.encode(forged)
    headers = [(k, bytes(v)) for k, v in genuine.headers()]
    keyring = Settings.from_env(shipped.env).event_keyring()
    far_future = ActionCompleted(str(uuid.uuid4()), thief, "win-match", f"n-{uuid.uuid4().hex}", 100,
                                 SHIPPED.version, 253_402_300_800_000_000 + 1)
    future_value = codec.encode(far_future)
    future_headers = cloud_event_headers(far_future.event_id, "ActionCompleted", "/x", now)
    unknown_schema = b"\xc3\x01" + b"\x42" * 8 + b"\x00"
    produce_raw(bootstrap, [
        (thief.encode(), forged_value, cloud_event_headers(forged.event_id, "ActionCompleted", "/x", now), 0),
        (thief.encode(), genuine.value(), headers, genuine.partition()),
        (victim.encode(), genuine.value(), headers, (genuine.partition() + 1) % partitions),
        (b"thief\x00nul", forged_value, [], 0),
        (thief.encode(), future_value, keyring.sign(ACTIONS, 0, thief.encode(), future_value, future_headers), 0),
        (thief.encode(), unknown_schema, keyring.sign(ACTIONS, 0, thief.encode(), unknown_schema, []), 0),
    ])
    assert caller.complete(honest, "win-match").status_code == 202
    wait_until(lambda: caller.score(honest) == 100, what="the honest action after the forgeries counted")
    caller.settle()
    assert caller.score(thief) is None
    assert caller.score(victim) == 100
    codes = [event.reason.split(":")[0] for _, event, _ in records_since(bootstrap, rejected_since, REJECTED)
             if isinstance(event, RejectedAction)]
    assert codes.count("signature") >= 4, codes
    assert "time-skew" in codes and "undecodable" in codes, codes


def flush_api_redis(system: System) -> None:
    """Flush the world's Redis db, keeping a key in it: an empty db is free for another run's world to claim."""
    with redis.Redis.from_url(system.world.redis_url).pipeline(transaction=True) as pipe:
        pipe.flushdb()
        pipe.set("test:world-claim", system.world.name)
        pipe.execute()


def test_caps_and_cooldowns_hold_when_redis_is_flushed(caller: Caller, shipped: System) -> None:
    """Redis forgets the api's reservations; the api then accepts, but the worker refuses from the
    log: the score holds, ``Prefer: wait`` answers the rejection and ``/v1/me`` lists it."""
    clear_of_utc_midnight()  # the daily cap holds within one UTC day
    user = fresh("flushed")
    assert caller.complete(user, "daily-login").status_code == 202
    assert caller.complete(user, "win-match").status_code == 202
    wait_until(lambda: caller.score(user) == 105, what="the first two actions counted")
    assert_problem(caller.complete(user, "daily-login"), 429, "daily-cap")
    flush_api_redis(shipped)
    answers = [complete_until_decided(caller, user, action) for action in ("daily-login", "win-match")]
    assert [first.status_code for first, _ in answers] == [202, 202], [first.text for first, _ in answers]
    waited = [decided for _, decided in answers]
    assert [w.json()["outcome"] for w in waited] == ["rejected", "rejected"]
    assert [w.json()["rejection"]["code"] for w in waited] == ["cap", "cooldown"]
    assert caller.score(user) == 105
    me = httpx.get(f"{shipped.api_url}/v1/me", headers={"Authorization": f"Bearer {caller.token(user)}"}).json()
    assert sorted(r["code"] for r in me["rejected"]) == ["cap", "cooldown"]
    assert {r["event_id"] for r in me["rejected"]} == {w.json()["event_id"] for w in waited}
