"""The simulation's model of the api admits what the api admits: buckets, tickets, keys, cooldowns, caps,
budgets; and what it admits the worker's judge accepts."""

from __future__ import annotations

import random

from bench.simulation.admission import Admission, TokenBucket
from bench.simulation.agents import DAY_US, HOUR_US, SECOND_US, Account, Request
from scoreboard.domain.catalog import load_catalog, load_catalogs
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.policy import Judge, Usage, UsageKey

T0 = 1_796_601_600_000_000  # 2026-12-07 00:00 UTC
ALICE = Account("alice", "regular", False, "ip:1", "dev:1")


def admission() -> Admission:
    return Admission(load_catalog())


def test_the_user_bucket_allows_a_burst_of_20_then_one_a_second() -> None:
    """The 21st request in the same millisecond is refused with Retry-After 1; a second later one passes."""
    bucket = TokenBucket(1.0, 20)
    assert [bucket.take("u", T0) for _ in range(20)] == [0] * 20
    assert bucket.take("u", T0) == 1
    assert bucket.take("u", T0 + 999_000) == 1
    assert bucket.take("u", T0 + 1_999_000) == 0
    assert bucket.take("someone-else", T0) == 0


def test_requests_past_the_burst_are_rate_limited_before_anything_else() -> None:
    """Even a duplicate or an unknown action costs a token: the bucket sits in front of the use case."""
    api = admission()
    answers = [api.handle(Request("alice", "no-such-action", key=f"k{i}"), ALICE, T0)[0] for i in range(21)]
    assert [a.reason for a in answers[:20]] == ["unknown-action"] * 20
    assert (answers[20].status, answers[20].reason, answers[20].retry_after_s) == (429, "rate-limited", 1)


def test_one_open_ticket_per_user_and_action_until_it_is_spent() -> None:
    """A second start is 409 ticket-open until the first ticket is spent; then a start passes again."""
    api = admission()
    first, _ = api.handle(Request("alice", "boss-fight", start=True), ALICE, T0)
    second, _ = api.handle(Request("alice", "boss-fight", start=True), ALICE, T0 + SECOND_US)
    assert first.status == 201 and first.ticket is not None
    assert (second.status, second.reason) == (409, "ticket-open") and second.retry_after_s > 60
    done, event = api.handle(Request("alice", "boss-fight", key="k-boss-1", ticket=first.ticket), ALICE,
                             T0 + 60 * SECOND_US)
    assert done.accepted and event is not None and event.nonce == first.ticket.ticket_id
    assert event.ticket_started_at_us == T0
    third, _ = api.handle(Request("alice", "boss-fight", start=True), ALICE, T0 + 61 * SECOND_US)
    assert third.status == 201


def test_a_ticket_completes_only_after_its_minimum_duration_and_only_once() -> None:
    """Too early is 409 with Retry-After; a second completion of a spent ticket under a new key is ticket-used."""
    api = admission()
    ticket = api.handle(Request("alice", "boss-fight", start=True), ALICE, T0)[0].ticket
    assert ticket is not None
    early, event = api.handle(Request("alice", "boss-fight", key="k-1", ticket=ticket), ALICE, T0 + 59 * SECOND_US)
    assert (early.status, early.reason, early.retry_after_s, event) == (409, "ticket-too-early", 1, None)
    ok, event = api.handle(Request("alice", "boss-fight", key="k-1", ticket=ticket), ALICE, T0 + 60 * SECOND_US)
    assert ok.accepted and event is not None
    again, event = api.handle(Request("alice", "boss-fight", key="k-2", ticket=ticket), ALICE, T0 + 900 * SECOND_US)
    assert (again.status, again.reason, event) == (409, "ticket-used", None)


def test_a_replayed_idempotency_key_is_answered_as_a_duplicate_and_writes_nothing() -> None:
    """The same key for the same action: duplicate, no record; for another action: 422."""
    api = admission()
    first, event = api.handle(Request("alice", "win-match", key="key-0001"), ALICE, T0)
    assert first.accepted and event is not None
    for i in range(1, 4):
        replay, again = api.handle(Request("alice", "win-match", key="key-0001"), ALICE, T0 + i * SECOND_US)
        assert (replay.status, replay.reason, again) == (200, "duplicate", None)
    other, again = api.handle(Request("alice", "complete-level", key="key-0001"), ALICE, T0 + 5 * SECOND_US)
    assert (other.status, other.reason, again) == (422, "idempotency-key-reused", None)


def test_a_refused_attempt_releases_its_key_and_the_cooldown_says_when_to_retry() -> None:
    """A cooldown refusal answers the seconds left; the same key is accepted once it has passed."""
    api = admission()
    assert api.handle(Request("alice", "win-match", key="key-0001"), ALICE, T0)[0].accepted
    refused, _ = api.handle(Request("alice", "win-match", key="key-0002"), ALICE, T0 + 100 * SECOND_US)
    assert (refused.status, refused.reason, refused.retry_after_s) == (429, "cooldown", 200)
    later, event = api.handle(Request("alice", "win-match", key="key-0002"), ALICE, T0 + 300 * SECOND_US)
    assert later.accepted and event is not None


def test_budgets_and_caps_refuse_until_their_window_ends() -> None:
    """1,200 points an hour: the 25th level of the hour (at its cooldown) waits for the next hour; the
    second login of a day waits for midnight."""
    api = admission()
    answers = [api.handle(Request("alice", "complete-level", key=f"key-{i:04d}"), ALICE, T0 + i * 90 * SECOND_US)[0]
               for i in range(25)]
    assert [a.accepted for a in answers] == [True] * 24 + [False]
    assert (answers[-1].reason, answers[-1].retry_after_s) == ("budget", 3600 - 24 * 90)
    api.handle(Request("alice", "daily-login", key="login-0001"), ALICE, T0 + HOUR_US)
    capped, _ = api.handle(Request("alice", "daily-login", key="login-0002"), ALICE, T0 + 2 * HOUR_US)
    assert (capped.reason, capped.retry_after_s) == ("daily-cap", (DAY_US - 2 * HOUR_US) // SECOND_US)


def test_everything_the_model_admits_the_worker_judge_accepts() -> None:
    """A random storm of requests: not one admitted record breaks the worker's policy."""
    catalogs = load_catalogs()
    api, judge = Admission(catalogs.current), Judge(catalogs, HOUR_US)
    usage: dict[UsageKey, Usage] = {}
    rng = random.Random(7)
    now, tickets, admitted = T0, {}, 0
    for i in range(5000):
        now += int(rng.expovariate(1 / 20) * SECOND_US)
        action = rng.choice(["daily-login", "complete-level", "win-match", "boss-fight"])
        if action == "boss-fight" and action not in tickets:
            tickets[action] = api.handle(Request("alice", action, start=True), ALICE, now)[0].ticket
            continue
        ticket = tickets.pop(action, None) if action == "boss-fight" else None
        _, event = api.handle(Request("alice", action, key=f"key-{i:05d}", ticket=ticket), ALICE, now)
        if isinstance(event, ActionCompleted):
            verdict = judge.judge(event, usage.get)
            assert verdict.reason is None, verdict.reason
            usage.update(verdict.usage)
            admitted += 1
    assert admitted > 100
