"""Read-your-writes: wait until an accepted action shows on the boards (``Prefer: wait=N``).

An action is visible once the worker committed its ledger row and Redis applied standings at least
as new as the ones that commit produced, on every board the action counts on (the worker writes
Postgres first, then Redis, so the Postgres seq is the target). A rejected action (the worker judged
it against the catalog's policy, or the user is banned) never becomes visible; the wait ends at once
with the worker's reason. So does an action accepted while its user is under review (``held``: in the
ledger, off the public boards until a moderator decides) and one a moderator voided (``voided``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.ranking import RedisBoards
from scoreboard.domain.boards import boards_for

MAX_WAIT_SECONDS = 10
PENDING, REJECTED = "pending", "rejected"
_WAIT = re.compile(r"^wait\s*=\s*\"?(\d{1,6})\"?$", re.IGNORECASE)


def preferred_wait(header: str) -> int | None:
    """The ``wait`` preference of a ``Prefer`` header (RFC 7240), capped; None if absent or invalid
    (an unknown or malformed preference is ignored, as the RFC asks)."""
    for part in header.split(","):
        found = _WAIT.match(part.split(";")[0].strip())
        if found:
            return min(int(found[1]), MAX_WAIT_SECONDS)
    return None


@dataclass(frozen=True)
class Fate:
    """How the wait for an event ended: ``visible``, ``rejected`` (with the worker's reason), ``held``
    or ``voided`` (moderation), or ``pending`` (the wait ran out first)."""

    state: str
    reason: str = ""

    @property
    def visible(self) -> bool:
        return self.state == "visible"


class VisibilityWait:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection], boards: RedisBoards, poll_s: float = 0.025) -> None:
        self._pool = pool
        self._boards = boards
        self._poll_s = poll_s

    async def until_visible(self, event_id: str, timeout_s: float) -> Fate:
        """Wait until the event shows on every board it counts on, is rejected, or the time is up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        target: tuple[str, dict[str, int]] | None = None
        while True:
            if target is None:
                committed = await self._committed(event_id)
                if isinstance(committed, Fate):
                    return committed
                if isinstance(committed, tuple):
                    target = committed
            if target is not None and await self._applied(*target):
                return Fate("visible")
            if loop.time() >= deadline:
                return Fate(PENDING)
            await asyncio.sleep(self._poll_s)

    async def _committed(self, event_id: str) -> tuple[str, dict[str, int]] | Fate | str:
        """The user and the Postgres seq per board once the event is in the ledger; a rejected
        ``Fate`` if the worker rejected it; ``PENDING`` while the worker has not decided yet."""
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT user_id, occurred_at_us, state FROM ledger WHERE event_id = %s",
                                     (event_id,))
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute("SELECT reason FROM rejections WHERE event_id = %s"
                                         " ORDER BY rejected_at_us DESC LIMIT 1", (event_id,))
                rejected = await cur.fetchone()
                return PENDING if rejected is None else Fate(REJECTED, str(rejected[0]))
            user_id, occurred_at_us, state = row
            if state != "counted":
                return Fate(str(state))
            cur = await conn.execute("SELECT board, seq FROM board_scores WHERE user_id = %s AND board = ANY(%s)",
                                     (user_id, list(boards_for(occurred_at_us))))
            return str(user_id), {board: int(seq) for board, seq in await cur.fetchall()}

    async def _applied(self, user_id: str, seqs: dict[str, int]) -> bool:
        for board, seq in seqs.items():
            if await self._boards.seq_of(board, user_id) < seq:
                return False
        return True
