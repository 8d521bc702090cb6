"""The Redis boards keep the boards contract (tests/contracts/boards_contract.py), as the in-memory
fake does in tests/unit/test_memory_boards_contract.py. Each test claims an empty Redis database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from devstack.worlds import claim_redis_db
from projections.ranking import RedisBoards
from scoreboard.settings import merged_environment
from stream_app.ports import BoardsPort
from tests.contracts.boards_contract import BoardsContract, OpenBoards


@pytest.fixture()
def redis_url() -> Iterator[str]:
    url = claim_redis_db(merged_environment()["SCOREBOARD_REDIS_URL"], f"contract-{uuid.uuid4().hex[:6]}")
    try:
        yield url
    finally:
        sync_redis.Redis.from_url(url).flushdb()


class TestRedisBoards(BoardsContract):
    @pytest.fixture()
    def open_boards(self, redis_url: str) -> OpenBoards:
        @asynccontextmanager
        async def opened(top_n: int) -> AsyncIterator[BoardsPort]:
            client = Redis.from_url(redis_url)
            try:
                yield RedisBoards(client, top_n)
            finally:
                await client.aclose()

        return opened
