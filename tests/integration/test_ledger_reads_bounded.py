"""Point-in-time and history reads on real Postgres: their own small pool cuts a slow statement, the
api answers that with a 503 problem (not a 500) while the live reads go on, and they have their own
per-client rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.errors import QueryCanceled
from starlette.testclient import TestClient

from devstack.worlds import World, isolated_world
from producer_api.bootstrap import build_services, create_app
from projections.ledger_pool import ledger_read_pool
from scoreboard.adapters.auth import mint_token
from scoreboard.settings import Settings

AS_OF = {"as_of": "2024-03-09T22:00:00Z"}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with isolated_world() as created:
        yield created


@pytest.fixture
def api(world: World) -> Iterator[tuple[TestClient, Settings]]:
    """The real api app on this world, with a 300 ms statement timeout on its ledger pool."""
    settings = world.settings().model_copy(update={"history_statement_timeout_ms": 300, "rate_history_burst": 1000})
    services = build_services(settings)
    with TestClient(create_app(services)) as client:
        yield client, settings


def test_a_statement_past_the_timeout_is_cut_and_the_connection_stays_usable(world: World) -> None:
    """pg_sleep(10) through the ledger pool is cancelled after ~200 ms; the same pool then answers."""
    async def scenario() -> float:
        pool = ledger_read_pool(world.database_url, statement_timeout_ms=200, size=1)
        await pool.open(wait=True)
        try:
            started = time.monotonic()
            with pytest.raises(QueryCanceled):
                async with pool.connection() as conn:
                    await conn.execute("SELECT pg_sleep(10)")
            took = time.monotonic() - started
            async with pool.connection() as conn:
                cur = await conn.execute("SHOW statement_timeout")
                assert await cur.fetchone() == ("200ms",)
            return took
        finally:
            await pool.close()

    assert asyncio.run(scenario()) < 5


def test_an_as_of_or_history_read_cut_by_the_timeout_is_a_503_problem_and_live_reads_go_on(
        world: World, api: tuple[TestClient, Settings]) -> None:
    """With the ledger locked by another session, ``?as_of=`` and history wait on it until the statement
    timeout cuts them: 503 ``query-timeout`` problem+json with Retry-After; a live read meanwhile is 200;
    once the lock is gone the same reads answer 200."""
    client, settings = api
    token = {"Authorization": f"Bearer {mint_token(settings.jwt_secret, 'slow-reader')}"}
    assert client.get("/v1/leaderboards/global", params=AS_OF).status_code == 200
    with psycopg.connect(world.database_url) as locker:
        locker.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        for path, params, headers in (("/v1/leaderboards/global", AS_OF, {}),
                                      ("/v1/leaderboards/global/users/slow-reader", AS_OF, {}),
                                      ("/v1/users/slow-reader/history", {}, token)):
            started = time.monotonic()
            response = client.get(path, params=params, headers=headers)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/query-timeout")
            assert int(response.headers["retry-after"]) >= 1
            assert time.monotonic() - started < 5
        assert client.get("/v1/leaderboards/global").status_code == 200
    assert client.get("/v1/leaderboards/global", params=AS_OF).status_code == 200
    assert client.get("/v1/users/slow-reader/history", headers=token).status_code == 200


def test_ledger_reads_have_their_own_per_client_bucket(world: World) -> None:
    """A burst of 2: the third ``?as_of=`` read of a client is a 429 problem with Retry-After, and its
    live reads are not limited by it."""
    settings = world.settings().model_copy(update={"rate_history_per_second": 0.01, "rate_history_burst": 2})
    with TestClient(create_app(build_services(settings)), client=("192.0.2.77", 5000)) as client:
        statuses = [client.get("/v1/leaderboards/global", params=AS_OF).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = client.get("/v1/leaderboards/daily", params=AS_OF)
        assert limited.status_code == 429 and limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1 and "history limit" in limited.json()["detail"]
        assert client.get("/v1/leaderboards/global").status_code == 200
