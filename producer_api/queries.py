"""Read use cases of the leaderboards: which projection answers, and what it answers.

Live reads come from Redis when it holds the whole board (marked complete, checked atomically with
the read), otherwise from the Postgres standings, and a background repair writes the board back. If Redis does
not answer at all, Postgres answers. Reads ``as_of`` a moment come from the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import RedisError

from projections.asof import LedgerAsOf
from projections.pages import Page, Placement
from projections.ranking import BoardIncomplete, RedisBoards
from projections.repair import MARKED, MISSING, BoardRepair
from projections.standings import Standings
from scoreboard.domain.events import BoardEntry

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS, POSTGRES, LEDGER = "redis", "postgres", "ledger"


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """An answer and the projection it came from (``redis``, ``postgres`` or ``ledger``)."""

    value: T
    source: str


class LeaderboardQueries:
    def __init__(self, boards: RedisBoards, standings: Standings, repair: BoardRepair,
                 ledger_pool: AsyncConnectionPool[AsyncConnection]) -> None:
        """``ledger_pool``: the small, time-bounded pool ``as_of`` reads run on."""
        self._boards = boards
        self._standings = standings
        self._repair = repair
        self._ledger_pool = ledger_pool

    async def page(self, board: str, limit: int, offset: int, as_of_us: int | None = None) -> Sourced[Page]:
        if as_of_us is not None:
            page = await LedgerAsOf(self._ledger_pool, as_of_us).page(board, limit, offset)
            return Sourced(replace(page, version=as_of_us), LEDGER)
        from_redis = await self._from_redis(board, lambda: self._boards.page(board, limit, offset, complete=True))
        if from_redis is not None:
            return Sourced(from_redis, REDIS)
        page = await self._standings.page(board, limit, offset)
        return Sourced(replace(page, version=await self._version(board)), POSTGRES)

    async def placement(self, board: str, user_id: str, radius: int = 0,
                        as_of_us: int | None = None) -> Sourced[Placement | None]:
        if as_of_us is not None:
            found = await LedgerAsOf(self._ledger_pool, as_of_us).placement(board, user_id, radius)
            return Sourced(found and replace(found, version=as_of_us), LEDGER)
        missing = Placement(0, 0, BoardEntry(0, "", 0), ())  # Redis answered: the user is not ranked
        from_redis = await self._from_redis(
            board, lambda: self._or(self._boards.placement(board, user_id, radius, complete=True), missing))
        if from_redis is not None:
            return Sourced(None if from_redis is missing else from_redis, REDIS)
        found = await self._standings.placement(board, user_id, radius)
        if found is not None:
            found = replace(found, version=await self._version(board))
        return Sourced(found, POSTGRES)

    @staticmethod
    async def _or(read: Awaitable[T | None], default: T) -> T:
        found = await read
        return default if found is None else found

    async def _from_redis(self, board: str, read: Callable[[], Awaitable[T]]) -> T | None:
        """The Redis answer if Redis holds the whole board; else None, and a repair is under way."""
        try:
            try:
                return await read()
            except BoardIncomplete:
                state = await self._repair.check(board)
                if state == MARKED:
                    return await read()
                if state == MISSING:
                    self._repair.schedule(board)
        except BoardIncomplete:
            pass  # lost again between the mark and the read: Postgres answers this one
        except RedisError as exc:
            log.warning("Redis did not answer for board %s; reading Postgres: %r", board, exc)
        return None

    async def _version(self, board: str) -> int:
        """The version Redis still has for the board; 0 while Redis has lost it."""
        try:
            return await self._boards.version(board)
        except RedisError:
            return 0
