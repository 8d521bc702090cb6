"""Read use cases of the leaderboards: which projection answers, and what it answers.

Live reads come from Redis when it holds the whole board (``BoardRepair.is_complete``), otherwise
from the Postgres standings, and a background repair writes the board back to Redis. If Redis does
not answer at all, Postgres answers. Reads ``as_of`` a moment come from the ledger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import RedisError

from projections.asof import LedgerAsOf
from projections.pages import BoardReader, Page, Placement
from projections.ranking import Boards
from projections.repair import BoardRepair
from projections.standings import Standings

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS, POSTGRES, LEDGER = "redis", "postgres", "ledger"


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """An answer and the projection it came from (``redis``, ``postgres`` or ``ledger``)."""

    value: T
    source: str


class LeaderboardQueries:
    def __init__(self, boards: Boards, standings: Standings, repair: BoardRepair,
                 pool: AsyncConnectionPool[AsyncConnection]) -> None:
        self._boards = boards
        self._standings = standings
        self._repair = repair
        self._pool = pool

    async def page(self, board: str, limit: int, offset: int, as_of_us: int | None = None) -> Sourced[Page]:
        if as_of_us is not None:
            page = await LedgerAsOf(self._pool, as_of_us).page(board, limit, offset)
            return Sourced(replace(page, version=as_of_us), LEDGER)
        reader, source = await self._live(board)
        page = await reader.page(board, limit, offset)
        if source != REDIS:
            page = replace(page, version=await self._version(board))
        return Sourced(page, source)

    async def placement(self, board: str, user_id: str, radius: int = 0,
                        as_of_us: int | None = None) -> Sourced[Placement | None]:
        if as_of_us is not None:
            found = await LedgerAsOf(self._pool, as_of_us).placement(board, user_id, radius)
            return Sourced(found and replace(found, version=as_of_us), LEDGER)
        reader, source = await self._live(board)
        found = await reader.placement(board, user_id, radius)
        if found is not None and source != REDIS:
            found = replace(found, version=await self._version(board))
        return Sourced(found, source)

    async def _live(self, board: str) -> tuple[BoardReader, str]:
        try:
            if await self._repair.is_complete(board):
                return self._boards, REDIS
            self._repair.schedule(board)
        except RedisError as exc:
            log.warning("Redis did not answer for board %s; reading Postgres: %r", board, exc)
        return self._standings, POSTGRES

    async def _version(self, board: str) -> int:
        """The version Redis still has for the board; 0 while Redis has lost it."""
        try:
            return await self._boards.version(board)
        except RedisError:
            return 0
