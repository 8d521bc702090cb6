"""Board reads from Postgres: the current standings (``board_scores``), for when Redis cannot answer.

The ranking SQL is written once over any relation ``(user_id, score, reached_at_us)`` of visible
users, so the point-in-time boards of ``projections.asof`` rank with exactly the same order.
``COLLATE "C"`` compares user ids byte by byte, like the Redis ZSET and ``scoring.rank_order``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.pages import Page, Placement
from scoreboard.domain.events import BoardEntry

ORDER = 'score DESC, reached_at_us ASC, user_id COLLATE "C" DESC'
_AHEAD = ('score > %(score)s OR (score = %(score)s AND (reached_at_us < %(reached)s'
          ' OR (reached_at_us = %(reached)s AND user_id COLLATE "C" > %(user)s)))')
Params = Mapping[str, object]


def storable(text: str) -> bool:
    """Postgres text cannot hold NUL, so such an id names nobody (and must not reach a query)."""
    return "\x00" not in text


async def ranked_page(conn: AsyncConnection, relation: str, params: Params, limit: int, offset: int) -> Page:
    """A page of ``relation`` in board order (version left 0: the caller knows the board's version)."""
    cur = await conn.execute(f"SELECT count(*) FROM ({relation}) r", params)
    row = await cur.fetchone()
    total = int(row[0]) if row else 0
    cur = await conn.execute(
        f"SELECT user_id, score FROM ({relation}) r ORDER BY {ORDER} LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": limit, "offset": offset})
    rows = await cur.fetchall()
    entries = tuple(BoardEntry(offset + i + 1, user, int(score)) for i, (user, score) in enumerate(rows))
    return Page(0, total, entries)


async def ranked_placement(conn: AsyncConnection, relation: str, params: Params, user_id: str,
                           radius: int) -> Placement | None:
    if not storable(user_id):
        return None
    cur = await conn.execute(f"SELECT score, reached_at_us FROM ({relation}) r WHERE user_id = %(user)s",
                             {**params, "user": user_id})
    row = await cur.fetchone()
    if row is None:
        return None
    score, reached = row
    cur = await conn.execute(f"SELECT count(*) FROM ({relation}) r WHERE {_AHEAD}",
                             {**params, "user": user_id, "score": score, "reached": reached})
    ahead = await cur.fetchone()
    rank = (int(ahead[0]) if ahead else 0) + 1
    start = max(0, rank - 1 - radius)
    around = await ranked_page(conn, relation, params, rank - start + radius, start)
    return Placement(0, around.total, BoardEntry(rank, user_id, int(score)), around.entries)


@contextlib.asynccontextmanager
async def snapshot(pool: AsyncConnectionPool[AsyncConnection]) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction on one snapshot, so a count, a rank and a page agree with each other."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield conn


_CURRENT = "SELECT user_id, score, reached_at_us FROM board_scores WHERE board = %(board)s AND visible"


class Standings:
    """The current boards as Postgres holds them (what the worker committed)."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection]) -> None:
        self._pool = pool

    async def page(self, board: str, limit: int, offset: int) -> Page:
        async with snapshot(self._pool) as conn:
            return await ranked_page(conn, _CURRENT, {"board": board}, limit, offset)

    async def placement(self, board: str, user_id: str, radius: int = 0) -> Placement | None:
        async with snapshot(self._pool) as conn:
            return await ranked_placement(conn, _CURRENT, {"board": board}, user_id, radius)

    async def tracked(self, board: str) -> int:
        """Every standing of the board, hidden ones included (Redis keeps a seq for those too)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM board_scores WHERE board = %s", (board,))
            row = await cur.fetchone()
            return int(row[0]) if row else 0
