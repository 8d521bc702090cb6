"""Point-in-time boards: a board as it stood at a moment, computed from the Postgres ledger.

A user's score on a board at ``T`` is the sum of their ledger entries that occurred in the board's
window and at or before ``T``; the tie time is that of their last non-zero change, or of their first
change if every change was zero (the rule of ``scoring._State.add_points``); ranking is the live
board's (``projections.standings.ORDER``). "At ``T``" is server time as recorded in the events.

Bans: a user is hidden if their latest status change at or before ``T`` is a ban. Status changes come
from ``ban_history`` (one row per effective ban/unban, written by the worker) and, for users it has no
row for, from the latest status in ``user_status`` when that change is itself at or before ``T``. A
ban whose history is missing and that was later superseded is not known, and counts as no ban.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.pages import Page, Placement
from projections.standings import ranked_page, ranked_placement, snapshot
from scoreboard.domain.boards import GLOBAL
from scoreboard.domain.clock import to_micros

_NEVER = (-(1 << 63), (1 << 63) - 1)
_AS_OF = """
SELECT s.user_id, s.score, s.reached_at_us FROM (
  SELECT user_id, sum(points)::bigint AS score,
         coalesce((array_agg(occurred_at_us ORDER BY id DESC) FILTER (WHERE points <> 0))[1],
                  (array_agg(occurred_at_us ORDER BY id))[1]) AS reached_at_us
  FROM ledger
  WHERE occurred_at_us <= %(at)s AND occurred_at_us >= %(window_start)s AND occurred_at_us < %(window_end)s
  GROUP BY user_id
) s
WHERE NOT coalesce((
  SELECT c.banned FROM (
    SELECT h.banned, h.changed_at_us, 1 AS pref FROM ban_history h
      WHERE h.user_id = s.user_id AND h.changed_at_us <= %(at)s
    UNION ALL
    SELECT u.banned, u.changed_at_us, 0 FROM user_status u
      WHERE u.user_id = s.user_id AND u.changed_at_us <= %(at)s
  ) c ORDER BY c.changed_at_us DESC, c.pref DESC LIMIT 1), false)
"""


def window_of(board: str) -> tuple[int, int]:
    """The server-time range ``[start, end)`` in microseconds that counts on a concrete board id."""
    if board == GLOBAL:
        return _NEVER
    kind, _, label = board.partition(":")
    if kind == "daily":
        first = date.fromisoformat(label)
        days = 1
    elif kind == "weekly":
        year, _, week = label.partition("-W")
        first = date.fromisocalendar(int(year), int(week), 1)
        days = 7
    else:
        raise ValueError(f"not a concrete board id: {board!r}")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return to_micros(start), to_micros(start + timedelta(days=days))


class LedgerAsOf:
    """Board reads at a moment ``at_us``, straight from the ledger (exact int64 scores)."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection], at_us: int) -> None:
        self._pool = pool
        self._at_us = at_us

    def _params(self, board: str) -> dict[str, object]:
        start, end = window_of(board)
        return {"at": self._at_us, "window_start": start, "window_end": end}

    async def page(self, board: str, limit: int, offset: int) -> Page:
        async with snapshot(self._pool) as conn:
            return await ranked_page(conn, _AS_OF, self._params(board), limit, offset)

    async def placement(self, board: str, user_id: str, radius: int = 0) -> Placement | None:
        async with snapshot(self._pool) as conn:
            return await ranked_placement(conn, _AS_OF, self._params(board), user_id, radius)
