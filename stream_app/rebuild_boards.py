"""The boards as a rebuild writes them: each user's latest standing per board, written to Redis in a
few large writes instead of once per batch.

A replay batch writes absolute, ``seq``-numbered standings (``projections.ranking``): the Redis
script keeps, for each (board, user), only the standing with the highest ``seq``, and what it keeps
for a user (member, score, visibility) depends on that standing alone. So writing only each user's
newest standing leaves the same ZSET and hashes as writing every batch's, and the top N recorded
after the last write is the same. The buffer is flushed when it holds ``max_pending`` standings (it
stays bounded however long the log) and at the end of the replay (``flush``). Only the board
version differs, as it does between any two rebuilds: it is the wall clock of the write.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.ranking import BoardUpdate
from scoreboard.domain.events import BoardEntry
from scoreboard.domain.scoring import Standing
from stream_app.ports import BoardsPort

DEFAULT_MAX_PENDING = 300_000
_WRITE_CHUNK = 20_000  # standings per Redis call: one call blocks Redis while it runs


class CoalescedBoards:
    """A ``BoardsPort`` for a replay that publishes nothing (``announce=False``): ``apply`` keeps the
    standings and reports no change; ``flush`` writes them through ``boards``."""

    def __init__(self, boards: BoardsPort, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._boards = boards
        self._max_pending = max_pending
        self._pending: dict[str, dict[str, Standing]] = {}
        self._count = 0
        self._last_now_us = 0

    @property
    def top_n(self) -> int:
        return self._boards.top_n

    @property
    def pending(self) -> int:
        """How many (board, user) standings wait for the next flush."""
        return self._count

    async def apply(self, board: str, standings: Iterable[tuple[str, Standing]], now_us: int) -> BoardUpdate:
        kept = self._pending.setdefault(board, {})
        for user_id, standing in standings:
            before = kept.get(user_id)
            if before is None:
                self._count += 1
                kept[user_id] = standing
            elif standing.seq > before.seq:
                kept[user_id] = standing
        self._last_now_us = max(self._last_now_us, now_us)
        if self._count >= self._max_pending:
            await self.flush()
        return BoardUpdate(board, 0, False, (), 0)

    async def flush(self) -> None:
        """Write every kept standing (one atomic write per board) and empty the buffer."""
        pending, self._pending, self._count = self._pending, {}, 0
        for board in sorted(pending):
            standings = sorted(pending[board].items())
            for start in range(0, len(standings), _WRITE_CHUNK):
                await self._boards.apply(board, standings[start:start + _WRITE_CHUNK], self._last_now_us)

    async def top(self, board: str, limit: int = 10) -> tuple[int, list[BoardEntry]]:
        await self.flush()
        return await self._boards.top(board, limit)

    async def versions(self, boards: Iterable[str]) -> dict[str, int]:
        await self.flush()
        return await self._boards.versions(boards)
