"""The in-memory boards keep the boards contract (tests/contracts/boards_contract.py), as the Redis
boards do in tests/integration/test_redis_boards_contract.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from stream_app.ports import BoardsPort
from tests.contracts.boards_contract import BoardsContract, OpenBoards
from tests.support.memory_boards import MemoryBoards


class TestMemoryBoards(BoardsContract):
    @pytest.fixture()
    def open_boards(self) -> OpenBoards:
        @asynccontextmanager
        async def opened(top_n: int) -> AsyncIterator[BoardsPort]:
            yield MemoryBoards(top_n=top_n)

        return opened
