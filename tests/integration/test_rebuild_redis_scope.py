"""A rebuild drops the boards' Redis keys and nothing else: the api's per-user keys (rate limits,
cooldowns, caps, budgets, tickets, idempotency keys) live in the same Redis and are not projections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from devstack.worlds import claim_redis_db
from producer_api.completions import Reservation, open_tickets_key
from projections.ranking import BOARD_KEY_SUFFIXES, RedisBoards, complete_key, keys_of
from scoreboard.domain.boards import boards_for
from scoreboard.domain.catalog import DEFAULT_CATALOG, load_catalog
from scoreboard.domain.scoring import Standing
from scoreboard.settings import merged_environment
from stream_app.rebuild import _boards_in_redis, _drop_redis_boards

NOW_US = 1_795_000_000_000_000
SHIPPED_CATALOG = DEFAULT_CATALOG


@pytest.fixture()
def redis_url() -> Iterator[str]:
    url = claim_redis_db(merged_environment()["SCOREBOARD_REDIS_URL"], f"rebuild-scope-{uuid.uuid4().hex[:6]}")
    try:
        yield url
    finally:
        sync_redis.Redis.from_url(url).flushdb()


def user_keys(user: str) -> list[str]:
    """What the api keeps for a user: its reservation keys (ticket, cooldown, cap, budgets, open
    tickets), idempotency keys of both scopes, a rate-limit bucket, and keys whose tail happens to
    look like a board key's."""
    action = load_catalog(SHIPPED_CATALOG).actions["boss-fight"]
    reservation = Reservation(user, action, owner="req-1", ticket_id="t-1", ticket_ttl_s=600, now_us=NOW_US)
    return [*reservation.keys(), open_tickets_key(user, "win-match"),
            f"sb:{{u:{user}}}:idem:key-0001", f"sb:{{u:{user}}}:admin:key-0002",
            f"sb:rl:user:{{{user}}}", "sb:rl:ip:{127.0.0.1}",
            f"sb:{{u:{user}}}:v", f"sb:{{u:{user}}}:z", f"sb:{{u:{user}}}:top", f"sb:{{u:{user}}}:idem:x}}:v"]


def test_the_rebuilds_drop_deletes_exactly_the_board_keys(redis_url: str) -> None:
    boards = list(boards_for(NOW_US))
    users = ["alice", "global", "u:bob"]

    async def scenario() -> tuple[set[str], int, set[str], set[str]]:
        client = Redis.from_url(redis_url)
        try:
            ranking = RedisBoards(client, top_n=3)
            for board in boards:
                await ranking.apply(board, [(u, Standing(10 + i, 1, NOW_US)) for i, u in enumerate(users)], NOW_US)
                await client.set(complete_key(board), "1")
            for user in users:
                for key in user_keys(user):
                    await client.set(key, "kept")
            found = await _boards_in_redis(client)
            dropped = await _drop_redis_boards(client)
            left = {key.decode() async for key in client.scan_iter(match="*")}
            return found, dropped, left, await _boards_in_redis(client)
        finally:
            await client.aclose()

    found, dropped, left, after = asyncio.run(scenario())
    board_keys = {key for board in boards for key in [*keys_of(board), complete_key(board)]}
    assert len(board_keys) == len(boards) * len(BOARD_KEY_SUFFIXES)
    assert found == set(boards), "only real boards count as touched, not a user's ...:v key"
    assert dropped == len(board_keys)
    assert left == {key for user in users for key in user_keys(user)} | {"world:claim"}
    assert after == set()
