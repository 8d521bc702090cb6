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


@dataclass(frozen=True)
class RejectedEntry:
    """An event of the user's that the worker refused (``code`` is the reason's stable prefix)."""

    event_id: str
    code: str
    reason: str
    rejected_at_us: int


async def recent_rejections(pool: AsyncConnectionPool[AsyncConnection], user_id: str,
                            limit: int = 20) -> tuple[RejectedEntry, ...]:
    """The user's latest rejected events, newest first (the records with no event id, such as
    forgeries, are not the user's and are left out)."""
    if not storable(user_id):
        return ()
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT event_id, reason, rejected_at_us FROM rejections WHERE user_id = %s AND event_id <> ''"
            " ORDER BY rejected_at_us DESC, kafka_partition, kafka_offset LIMIT %s", (user_id, limit))
        rows = await cur.fetchall()
    return tuple(RejectedEntry(row[0], reason_code(row[1]), row[1], row[2]) for row in rows)


def reason_code(reason: str) -> str:
    """The stable code a rejection reason starts with (``cap``, ``cooldown``, ``budget``, ...)."""
    return reason.split(":", 1)[0].strip()
