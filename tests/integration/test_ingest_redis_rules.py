"""The Redis-side rules of ingest against real Redis: atomic under concurrency, refunded when refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from producer_api.completions import CompletionGuard, Refusal, Reservation, Reserved
from producer_api.idempotency import Claim, IdempotencyStore, Remembered
from producer_api.ratelimit import Bucket, ClientIpLimit, RateLimiter
from scoreboard.adapters.autopipe import AutoPipeline
from scoreboard.domain.catalog import Action, Limits
from scoreboard.settings import merged_environment

T = TypeVar("T")
NOW_US = 1_800_000_000_000_000


def with_redis(body: Callable[[AutoPipeline], Awaitable[T]]) -> T:
    async def run() -> T:
        redis = Redis.from_url(merged_environment()["SCOREBOARD_REDIS_URL"])
        calls = AutoPipeline.for_client(redis)
        try:
            return await body(calls)
        finally:
            await calls.close()
            await redis.aclose()

    return asyncio.run(run())


def fresh() -> str:
    return uuid.uuid4().hex


def test_the_token_bucket_admits_exactly_its_burst_under_concurrency() -> None:
    """50 simultaneous takes on a bucket of 10 (slow refill): exactly 10 pass, the rest carry retry hints."""
    async def body(calls: AutoPipeline) -> None:
        limiter, bucket, subject = RateLimiter(calls), Bucket("test", 0.01, 10), f"s-{fresh()}"
        verdicts = await asyncio.gather(*(limiter.take(bucket, subject) for _ in range(50)))
        assert sum(v.allowed for v in verdicts) == 10
        refused = next(v for v in verdicts if not v.allowed)
        assert refused.remaining == 0 and refused.retry_after_s >= 1 and refused.limit == 10
        assert refused.headers()["Retry-After"] == str(refused.retry_after_s)
    with_redis(body)


def test_the_client_ip_limit_answers_a_429_problem_with_headers() -> None:
    """Per-IP bucket of 3: the 4th request from one address is 429 problem+json; other addresses and
    non-/v1/ paths are unaffected."""
    async def body(calls: AutoPipeline) -> None:
        async def ok(request: Request) -> Response:
            return JSONResponse({"ok": True})

        bucket = Bucket(f"ip-{fresh()}", 0.01, 3)
        app = Starlette(routes=[Route("/v1/x", ok), Route("/healthz", ok)],
                        middleware=[Middleware(ClientIpLimit, limiter=RateLimiter(calls), bucket=bucket)])

        def client(address: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 1234)),
                                     base_url="http://api")

        async with client("10.0.0.1") as one, client("10.0.0.2") as two:
            statuses = [(await one.get("/v1/x")).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            limited = await one.get("/v1/x")
            assert limited.headers["content-type"] == "application/problem+json"
            assert limited.headers["RateLimit-Limit"] == "3" and limited.headers["RateLimit-Remaining"] == "0"
            assert int(limited.headers["Retry-After"]) >= 1
            assert (await one.get("/healthz")).status_code == 200
            assert (await two.get("/v1/x")).status_code == 200
    with_redis(body)


def reservation(user: str, action: Action, owner: str, ticket_id: str = "") -> Reservation:
    return Reservation(user, action, owner, ticket_id, 60, NOW_US)


def test_a_daily_cap_admits_exactly_the_cap_under_concurrency_and_refunds_on_release() -> None:
    """20 different requests race for a cap of 3: 3 pass; releasing one lets exactly one more in."""
    async def body(calls: AutoPipeline) -> None:
        guard, user = CompletionGuard(calls), f"u-{fresh()}"
        capped = Action("capped", "Capped", 1, daily_cap=3)
        attempts = [reservation(user, capped, f"key-{n}") for n in range(20)]
        refusals = await asyncio.gather(*(guard.reserve(r) for r in attempts))
        winners = [r for r, refusal in zip(attempts, refusals, strict=True) if isinstance(refusal, Reserved)]
        assert len(winners) == 3
        assert {r.reason for r in refusals if isinstance(r, Refusal)} == {"daily-cap"}
        assert isinstance(await guard.reserve(winners[0]), Reserved)  # the same request again: its own reservation
        await guard.release(winners[0])
        again = await asyncio.gather(*(guard.reserve(r) for r in attempts if r not in winners))
        assert sum(isinstance(refusal, Reserved) for refusal in again) == 1
    with_redis(body)


def test_a_ticket_is_redeemed_by_exactly_one_request() -> None:
    """Ten requests with different Idempotency-Keys race to spend one ticket: one wins, nine get ticket-used."""
    async def body(calls: AutoPipeline) -> None:
        guard, user, ticket = CompletionGuard(calls), f"u-{fresh()}", f"tkt.{fresh()}"
        boss = Action("boss", "Boss", 250, requires_ticket=True)
        refusals = await asyncio.gather(*(guard.reserve(reservation(user, boss, f"key-{n}", ticket))
                                          for n in range(10)))
        assert sum(isinstance(r, Reserved) for r in refusals) == 1
        assert {r.reason for r in refusals if isinstance(r, Refusal)} == {"ticket-used"}
    with_redis(body)


def test_a_cooldown_blocks_other_requests_but_not_the_same_one() -> None:
    """cooldown_seconds: the owner passes again (a retry), anyone else is refused with the time left."""
    async def body(calls: AutoPipeline) -> None:
        guard, user = CompletionGuard(calls), f"u-{fresh()}"
        cool = Action("cool", "Cool", 10, cooldown_seconds=30)
        assert isinstance(await guard.reserve(reservation(user, cool, "key-a")), Reserved)
        assert isinstance(await guard.reserve(reservation(user, cool, "key-a")), Reserved)
        refusal = await guard.reserve(reservation(user, cool, "key-b"))
        assert isinstance(refusal, Refusal) and refusal.reason == "cooldown" and 29 <= refusal.retry_after_s <= 30
    with_redis(body)


def test_concurrent_claims_of_one_key_have_one_owner() -> None:
    """Twenty simultaneous claims of one Idempotency-Key: one NEW, the rest see it in flight."""
    async def body(calls: AutoPipeline) -> None:
        store, user, key = IdempotencyStore(calls, lease_seconds=30), f"u-{fresh()}", f"key-{fresh()}"
        record = Remembered("e-1", "win-match", 100, key)
        outcomes = await asyncio.gather(*(store.claim(user, key, record) for _ in range(20)))
        assert sorted(o.value for o, _ in outcomes) == ["busy"] * 19 + ["new"]
        store.acknowledge(user, key, record)  # not awaited: the next command on the pipeline sees it
        outcome, known = await store.claim(user, key, record)
        assert outcome is Claim.DONE and known.acknowledged and known.event_id == "e-1"
    with_redis(body)


def test_the_points_budget_admits_exactly_what_fits_under_concurrency_and_refunds_refusals() -> None:
    """Budget 250 an hour, 40 simultaneous 100-point completions: exactly two pass; a retry of an
    admitted request passes again without spending more; a released one frees its points."""
    async def body(calls: AutoPipeline) -> None:
        guard, user = CompletionGuard(calls), f"u-{fresh()}"
        action = Action("match", "Match", 100, daily_cap=1000)
        limits = Limits(max_points_per_hour=250, max_points_per_day=10_000)
        reservations = [Reservation(user, action, f"k{i}", "", 0, NOW_US, limits) for i in range(40)]
        refusals = await asyncio.gather(*(guard.reserve(r) for r in reservations))
        admitted = [r for r, refusal in zip(reservations, refusals, strict=True) if isinstance(refusal, Reserved)]
        assert len(admitted) == 2
        refused = next(refusal for refusal in refusals if isinstance(refusal, Refusal))
        assert refused.reason == "budget" and 1 <= refused.retry_after_s <= 3600
        assert isinstance(await guard.reserve(admitted[0]), Reserved)  # the same request again: its own reservation
        await guard.release(admitted[1])
        assert isinstance(await guard.reserve(reservations[-1]), Reserved)
        assert isinstance(await guard.reserve(Reservation(user, action, "late", "", 0, NOW_US, limits)), Refusal)
    with_redis(body)


def test_the_refused_attempts_before_an_accepted_one_are_counted_then_forgotten() -> None:
    """Cooldown refusals and rate-limit refusals count; the next accepted reservation reports and resets them."""
    async def body(calls: AutoPipeline) -> None:
        guard, user = CompletionGuard(calls), f"u-{fresh()}"
        cool = Action("level", "Level", 50, cooldown_seconds=30)
        first = await guard.reserve(Reservation(user, cool, "key-0", "", 0, NOW_US))
        assert first == Reserved(0)
        for i in range(5):
            assert isinstance(await guard.reserve(Reservation(user, cool, f"key-r{i}", "", 0, NOW_US)), Refusal)
        await guard.note_refusal(user)
        other = Action("match", "Match", 100, cooldown_seconds=30)
        assert await guard.reserve(Reservation(user, other, "key-1", "", 0, NOW_US)) == Reserved(6)
        assert await guard.reserve(Reservation(user, other, "key-1", "", 0, NOW_US)) == Reserved(0)
    with_redis(body)


def test_one_open_ticket_per_user_and_action_until_it_is_spent() -> None:
    """20 simultaneous starts register one ticket; spending it at completion lets the next start in."""
    async def body(calls: AutoPipeline) -> None:
        guard, user = CompletionGuard(calls), f"u-{fresh()}"
        expires = NOW_US + 600 * 1_000_000
        waits = await asyncio.gather(*(guard.open_ticket(user, "boss", f"tkt.{i}", 1, NOW_US, expires)
                                       for i in range(20)))
        assert waits.count(0) == 1
        assert all(590_000 <= w <= 600_000 for w in waits if w)
        opened = f"tkt.{waits.index(0)}"
        action = Action("boss", "Boss", 250, requires_ticket=True, daily_cap=10)
        spend = Reservation(user, action, "k1", opened, 600, NOW_US, Limits(10_000, 10_000))
        assert isinstance(await guard.reserve(spend), Reserved)
        assert await guard.open_ticket(user, "boss", "tkt.next", 1, NOW_US, expires) == 0
        assert await guard.open_ticket(user, "boss", "tkt.late", 1, expires + 1, expires + 10**9) == 0
    with_redis(body)
