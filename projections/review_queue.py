"""The moderation queue as moderators read it: each user's latest review, with the evidence, the held
points and the user's recent actions (from the ledger the worker writes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.review_store import REVIEW_COLUMNS, review_of
from scoreboard.domain.records import Review

RECENT_ACTIONS = 10
STATUSES = {"pending": ("pending",), "decided": ("approved", "rejected"), "all": ("pending", "approved", "rejected")}


@dataclass(frozen=True)
class RecentAction:
    event_id: str
    action_id: str
    points: int
    occurred_at_us: int
    state: str


@dataclass(frozen=True)
class ReviewView:
    review: Review
    held_points: int
    held_actions: int
    score: int
    """The user's counted all-time score."""
    recent: tuple[RecentAction, ...]

    @property
    def evidence(self) -> dict[str, Any]:
        try:
            found = json.loads(self.review.evidence_json or "{}")
        except ValueError:
            return {"summary": self.review.evidence_json}
        return found if isinstance(found, dict) else {"value": found}


class ReviewQueue:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection]) -> None:
        self._pool = pool

    async def latest(self, status: str = "pending", limit: int = 50) -> list[ReviewView]:
        """Each user's latest review in ``status`` (``pending``, ``decided`` or ``all``), newest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {REVIEW_COLUMNS} FROM (SELECT DISTINCT ON (user_id) * FROM reviews"
                " ORDER BY user_id, kafka_offset DESC) latest WHERE state = ANY(%s::text[])"
                " ORDER BY flagged_at_us DESC, flag_event_id LIMIT %s", (list(STATUSES[status]), limit))
            reviews = [review_of(row) for row in await cur.fetchall()]
            return await _views(conn, reviews)

    async def of_user(self, user_id: str) -> ReviewView | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT {REVIEW_COLUMNS} FROM reviews WHERE user_id = %s"
                                     " ORDER BY kafka_offset DESC LIMIT 1", (user_id,))
            row = await cur.fetchone()
            if row is None:
                return None
            return (await _views(conn, [review_of(row)]))[0]


async def _views(conn: AsyncConnection, reviews: Sequence[Review]) -> list[ReviewView]:
    users = [r.user_id for r in reviews]
    if not users:
        return []
    cur = await conn.execute("SELECT user_id, sum(points)::bigint, count(*) FROM ledger WHERE state = 'held'"
                             " AND user_id = ANY(%s::text[]) GROUP BY user_id", (users,))
    held = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
    cur = await conn.execute("SELECT user_id, score FROM board_scores WHERE board = 'global'"
                             " AND user_id = ANY(%s::text[])", (users,))
    scores = {row[0]: row[1] for row in await cur.fetchall()}
    cur = await conn.execute(
        "SELECT u.uid, l.event_id, l.action_id, l.points, l.occurred_at_us, l.state FROM unnest(%s::text[]) u(uid)"
        " CROSS JOIN LATERAL (SELECT event_id, action_id, points, occurred_at_us, state FROM ledger"
        " WHERE user_id = u.uid ORDER BY occurred_at_us DESC LIMIT %s) l", (users, RECENT_ACTIONS))
    recent: dict[str, list[RecentAction]] = {}
    for row in await cur.fetchall():
        recent.setdefault(row[0], []).append(RecentAction(*row[1:]))
    return [ReviewView(r, *held.get(r.user_id, (0, 0)), scores.get(r.user_id, 0), tuple(recent.get(r.user_id, ())))
            for r in reviews]
