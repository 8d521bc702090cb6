"""The Redis boards on a real Redis: absolute, order-safe writes, tie order, versions, 2^53."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from devstack.worlds import claim_redis_db
from projections.ranking import RedisBoards
from scoreboard.domain.events import BoardEntry
from scoreboard.domain.scoring import Standing
from scoreboard.settings import merged_environment

T = TypeVar("T")


@pytest.fixture()
def redis_url() -> Iterator[str]:
    url = claim_redis_db(merged_environment()["SCOREBOARD_REDIS_URL"], f"boards-{uuid.uuid4().hex[:6]}")
    try:
        yield url
    finally:
        sync_redis.Redis.from_url(url).flushdb()


def run(redis_url: str, scenario: Callable[[RedisBoards], Awaitable[T]]) -> T:
    async def main() -> T:
        client = Redis.from_url(redis_url)
        try:
            return await scenario(RedisBoards(client, top_n=3))
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_a_stale_write_never_overwrites_a_newer_score(redis_url: str) -> None:
    """seq 5 then seq 4 (a zombie or a late replay): the board keeps seq 5's score."""
    async def scenario(boards: RedisBoards) -> tuple[int, int, BoardEntry | None]:
        await boards.apply("global", [("ann", Standing(50, 5, 10))], now_us=1)
        late = await boards.apply("global", [("ann", Standing(40, 4, 9))], now_us=2)
        same = await boards.apply("global", [("ann", Standing(40, 5, 9))], now_us=3)
        return late.applied, same.applied, await boards.rank_of("global", "ann")

    late, same, entry = run(redis_url, scenario)
    assert (late, same) == (0, 0)
    assert entry is not None and entry.score == 50


def test_equal_scores_rank_by_who_reached_them_first(redis_url: str) -> None:
    """Three users on 100: the earliest to reach it is first, whatever the write order."""
    async def scenario(boards: RedisBoards) -> list[str]:
        await boards.apply("global", [("late", Standing(100, 1, 300))], now_us=1)
        await boards.apply("global", [("early", Standing(100, 1, 100)), ("mid", Standing(100, 1, 200))], now_us=2)
        _, entries = await boards.top("global", 3)
        return [e.user_id for e in entries]

    assert run(redis_url, scenario) == ["early", "mid", "late"]


def test_the_version_bumps_only_when_the_top_n_changes_and_never_goes_back(redis_url: str) -> None:
    """A change below the top 3 keeps the version; a change inside bumps it above the clock."""
    async def scenario(boards: RedisBoards) -> list[tuple[bool, int]]:
        seen = []
        for user, score in (("a", 30), ("b", 20), ("c", 10)):
            update = await boards.apply("weekly:2026-W48", [(user, Standing(score, 1, 1))], now_us=1000)
            seen.append((update.changed, update.version))
        below = await boards.apply("weekly:2026-W48", [("d", Standing(5, 1, 1))], now_us=2000)
        clock_behind = await boards.apply("weekly:2026-W48", [("d", Standing(50, 2, 2))], now_us=500)
        return [*seen, (below.changed, below.version), (clock_behind.changed, clock_behind.version)]

    seen = run(redis_url, scenario)
    assert [changed for changed, _ in seen] == [True, True, True, False, True]
    versions = [version for _, version in seen]
    assert versions[0] >= 1000 and versions == sorted(versions) and len(set(versions)) == 4
    assert versions[4] == versions[3] + 1  # a clock behind the board still moves the version forward


def test_a_hidden_user_leaves_the_board_and_comes_back_with_its_score(redis_url: str) -> None:
    """visible=False (a ban) removes the member; a newer visible write restores it."""
    async def scenario(boards: RedisBoards) -> tuple[object, object, int]:
        await boards.apply("global", [("m", Standing(70, 1, 1)), ("n", Standing(10, 1, 1))], now_us=1)
        await boards.apply("global", [("m", Standing(70, 2, 1, visible=False))], now_us=2)
        hidden = await boards.rank_of("global", "m")
        await boards.apply("global", [("m", Standing(70, 3, 1, visible=True))], now_us=3)
        return hidden, await boards.rank_of("global", "m"), await boards.size("global")

    hidden, back, size = run(redis_url, scenario)
    assert hidden is None
    assert back is not None and (back.rank, back.score) == (1, 70)  # type: ignore[attr-defined]
    assert size == 2


def test_scores_are_exact_int64_and_ranks_exact_up_to_2_pow_53(redis_url: str) -> None:
    """Scores are reported exactly even past 2^53 (they are kept as strings beside the ZSET). Ranks use
    the ZSET's doubles: exact up to 2^53; above, scores closer than a double's spacing rank as a tie
    (broken by who reached it first) - the documented limit."""
    big = 2**53

    async def scenario(boards: RedisBoards) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        await boards.apply("global", [("below-1", Standing(big - 1, 1, 5)), ("below-2", Standing(big - 2, 1, 1))],
                           now_us=1)
        _, exact = await boards.top("global", 2)
        await boards.apply("daily:2026-11-27", [("first", Standing(big, 1, 1)), ("plus-one", Standing(big + 1, 1, 9)),
                                                ("max", Standing(2**63 - 1, 1, 3))], now_us=1)
        _, beyond = await boards.top("daily:2026-11-27", 3)
        return [(e.user_id, e.score) for e in exact], [(e.user_id, e.score) for e in beyond]

    exact, beyond = run(redis_url, scenario)
    assert exact == [("below-1", big - 1), ("below-2", big - 2)]
    assert beyond == [("max", 2**63 - 1), ("first", big), ("plus-one", big + 1)]
