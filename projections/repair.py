"""Repair a board's Redis keys from Postgres, while reads keep answering from Postgres meanwhile.

Redis may lose a board (``FLUSHALL``, a failover without persistence, an evicted past window); the
worker then re-creates it one user at a time as actions arrive, so a partial ZSET looks like a real
one. A board is therefore trusted only once it is *known complete*: a marker key ``sb:{b}:complete``,
set when Redis tracks (holds a seq for) at least as many users as Postgres has standings for the
board. The marker lives and dies with the board's other keys (a flush takes it too), and the reads
check it in the same Lua step as they read (``RedisBoards.page(..., complete=True)``).

A repair streams the board's standings from Postgres into ``RedisBoards.apply`` in chunks: absolute
scores with their seq, so a standing the worker wrote meanwhile is newer and wins. At the end the
marker is set, atomically, only if Redis then tracks every user Postgres had at the start.
"""

from __future__ import annotations

import asyncio
import logging

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from projections.ranking import RedisBoards, complete_key, keys_of
from projections.standings import Standings
from scoreboard.domain.clock import Clock
from scoreboard.domain.scoring import Standing

log = logging.getLogger(__name__)
MARKED, MISSING, EMPTY = "marked", "missing", "empty"

# KEYS: s (user -> seq), marker. ARGV: users Postgres had. Sets the marker only if none is missing.
_MARK = """
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1')
  return 1
end
return 0
"""


class BoardRepair:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection], redis: Redis, boards: RedisBoards,
                 standings: Standings, clock: Clock, chunk: int = 5000) -> None:
        self._pool = pool
        self._redis = redis
        self._boards = boards
        self._standings = standings
        self._clock = clock
        self._chunk = chunk
        self._mark = redis.register_script(_MARK)
        self._running: dict[str, asyncio.Task[int]] = {}

    async def check(self, board: str) -> str:
        """``MARKED`` if Redis tracks every user Postgres has for the board (it was never lost, only not
        checked yet; the board is marked now), ``MISSING`` if Redis lacks some, ``EMPTY`` if Postgres
        has none. An empty board is not marked (no marker litter for every window anyone asks for):
        Postgres answers its reads cheaply."""
        expected = await self._standings.tracked(board)
        if expected == 0:
            return EMPTY
        marked = await self._mark(keys=[keys_of(board)[2], complete_key(board)], args=[expected])
        return MARKED if marked else MISSING

    def schedule(self, board: str) -> None:
        """Start a background repair of the board unless one is already running in this process."""
        if board in self._running:
            return
        task = asyncio.create_task(self.repair(board), name=f"repair {board}")
        self._running[board] = task
        task.add_done_callback(lambda done: self._finished(board, done))

    def _finished(self, board: str, task: asyncio.Task[int]) -> None:
        self._running.pop(board, None)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.warning("repair of board %s failed; the next read retries it: %r", board, task.exception())

    async def repair(self, board: str) -> int:
        """Write every standing of the board back to Redis; returns how many were applied."""
        applied = 0
        expected = 0
        async with self._pool.connection() as conn, conn.cursor(name=f"repair-{board}") as cur:
            await cur.execute("SELECT user_id, score, seq, reached_at_us, visible FROM board_scores"
                              " WHERE board = %s", (board,))
            while rows := await cur.fetchmany(self._chunk):
                expected += len(rows)
                standings = [(row[0], Standing(int(row[1]), int(row[2]), int(row[3]), bool(row[4])))
                             for row in rows]
                update = await self._boards.apply(board, standings, self._clock.now_us())
                applied += update.applied
        marked = expected > 0 and await self._mark(keys=[keys_of(board)[2], complete_key(board)], args=[expected])
        log.info("repaired board %s from Postgres: %d of %d standings applied, complete=%s",
                 board, applied, expected, bool(marked))
        return applied

    async def close(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
