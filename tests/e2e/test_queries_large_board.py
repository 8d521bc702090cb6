"""A board of 100,000 users, many tied on score and on tie time: every rank the api answers is exact,
from Postgres first (Redis has nothing) and from Redis once the repair wrote the board back."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from devstack.ports import free_port
from devstack.worlds import isolated_world
from projections.standings import Standings
from scoreboard.domain.scoring import Standing, rank_order
from testkit.system import System, wait_ready
from testkit.waits import wait_until
from tests.support.suite import LOAD_ENV

pytestmark = pytest.mark.e2e
USERS = 100_000
BOARD = "global"


@pytest.fixture(scope="module")
def api_only() -> Iterator[System]:
    """Only the api: the standings are written to Postgres directly, no worker needed."""
    with isolated_world() as world:
        port = free_port()
        env = world.env | LOAD_ENV | {"SCOREBOARD_API_PORT": str(port)}
        system = System(world, env)
        try:
            wait_ready(system.start("api"))
            yield system
        finally:
            system.stop_all()


def standings(seed: int) -> dict[str, Standing]:
    """Scores among 300 values and tie times among 40: about 8 users share each (score, time) pair;
    one user in a hundred is banned (hidden)."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:4]
    return {f"u{rng.randrange(1 << 30):08x}-{i}-{run}": Standing(rng.randrange(300) * 7, rng.randrange(1, 50),
                                                                   1_795_000_000_000_000 + rng.randrange(40),
                                                                   rng.random() >= 0.01)
            for i in range(USERS)}


def write_postgres(database_url: str, board: dict[str, Standing]) -> None:
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy("COPY board_scores (board, user_id, score, seq, reached_at_us, visible) FROM STDIN") as copy:
            for user, s in board.items():
                copy.write_row((BOARD, user, s.score, s.seq, s.reached_at_us, s.visible))


def postgres_reads(database_url: str, sample: list[str]) -> tuple[list[tuple[int, str, int]], list[list[int]]]:
    """The whole board in one page, and the ranks around each sampled user (radius 2), from Postgres."""
    async def read() -> tuple[list[tuple[int, str, int]], list[list[int]]]:
        async with AsyncConnectionPool(database_url, min_size=1, max_size=1) as pool:
            standings = Standings(pool)
            page = await standings.page(BOARD, USERS, 0)
            around = []
            for user in sample:
                found = await standings.placement(BOARD, user, 2)
                assert found is not None and found.entry.user_id == user
                around.append([found.entry.rank, *(e.rank for e in found.neighbours)])
        return [(e.rank, e.user_id, e.score) for e in page.entries], around

    return asyncio.run(read())


@pytest.mark.timeout(120)
def test_every_rank_of_a_100k_board_is_exact_from_postgres_and_then_from_redis(api_only: System) -> None:
    """Postgres ranks the whole board like ``rank_order``; the first read answers from Postgres and
    starts the repair; then all 1,000 pages of 100 from Redis, and 500 sampled users' ranks, are exact."""
    started = time.monotonic()
    board = standings(seed=20261127)
    expected = [(i + 1, user, s.score) for i, (user, s) in enumerate(rank_order(board))]
    write_postgres(api_only.world.database_url, board)
    sample = random.Random(3).sample(expected, 60)
    order, around = postgres_reads(api_only.world.database_url, [user for _, user, _ in sample])
    assert order == expected
    assert around == [[rank, *range(max(1, rank - 2), min(len(expected), rank + 2) + 1)] for rank, _, _ in sample]
    with httpx.Client(base_url=api_only.api_url, timeout=30) as http:
        first = http.get(f"/v1/leaderboards/{BOARD}", params={"limit": 100, "offset": 50_000}).json()
        assert first["source"] == "postgres" and first["total"] == len(expected)
        assert [(e["rank"], e["user_id"], e["score"]) for e in first["entries"]] == expected[50_000:50_100]
        wait_until(lambda: http.get(f"/v1/leaderboards/{BOARD}").json()["source"] == "redis", timeout_s=60,
                   what="the board repaired into Redis")
        answered: list[tuple[int, str, int]] = []
        for offset in range(0, len(expected), 100):
            page = http.get(f"/v1/leaderboards/{BOARD}", params={"limit": 100, "offset": offset}).json()
            assert page["source"] == "redis" and page["total"] == len(expected)
            answered += [(e["rank"], e["user_id"], e["score"]) for e in page["entries"]]
        assert answered == expected
        for rank, user, score in random.Random(5).sample(expected, 500):
            body = http.get(f"/v1/leaderboards/{BOARD}/users/{user}").json()
            assert (body["rank"], body["score"], body["total"]) == (rank, score, len(expected))
        hidden = next(user for user, s in board.items() if not s.visible)
        assert http.get(f"/v1/leaderboards/{BOARD}/users/{hidden}").status_code == 404
    assert time.monotonic() - started < 60
