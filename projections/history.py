"""A user's score history, newest first, from the Postgres ledger, in keyset pages.

Order: ``occurred_at_us`` descending, then ledger ``id`` descending (served by the index
``ledger_user_time``). A page ends where the next begins: the position ``(occurred_at_us, id)`` of
its last row, which the api hands out as an opaque cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.standings import storable

Position = tuple[int, int]
"""``(occurred_at_us, ledger id)`` of a row; the next page starts strictly after it."""


@dataclass(frozen=True)
class HistoryEntry:
    event_id: str
    action_id: str
    """The catalog action, or ``adjustment`` for an admin adjustment."""
    points: int
    total_after: int
    """The all-time score right after this entry."""
    occurred_at_us: int


@dataclass(frozen=True)
class HistoryPage:
    entries: tuple[HistoryEntry, ...]
    next: Position | None


class History:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection]) -> None:
        self._pool = pool

    async def page(self, user_id: str, limit: int, after: Position | None = None) -> HistoryPage:
        if not storable(user_id):
            return HistoryPage((), None)
        before_at, before_id = after if after is not None else ((1 << 63) - 1, (1 << 63) - 1)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, event_id, action_id, points, total_after, occurred_at_us FROM ledger"
                " WHERE user_id = %s AND (occurred_at_us, id) < (%s, %s)"
                " ORDER BY occurred_at_us DESC, id DESC LIMIT %s",
                (user_id, before_at, before_id, limit + 1))
            rows = await cur.fetchall()
        entries = tuple(HistoryEntry(*row[1:]) for row in rows[:limit])
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return HistoryPage(entries, (int(last[5]), int(last[0])) if last else None)
