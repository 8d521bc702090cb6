"""An in-memory stand-in for the Redis boards (``stream_app.ports.BoardsPort``): the Lua script of
``projections.ranking`` step by step, over dicts. ``tests/contracts/boards_contract.py`` holds it to
the real boards' behaviour (absolute writes, stale ``seq`` refused, top-N change detection, versions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from projections.ranking import BoardUpdate, member_for
from scoreboard.domain.events import BoardEntry
from scoreboard.domain.scoring import Standing
from stream_app.ports import BoardsPort


@dataclass
class MemoryBoard:
    """One board's keys: ``z`` (member -> score as the ZSET's double), ``m`` (user -> member), ``s``
    (user -> seq), ``x`` (user -> exact score), ``v`` (version) and ``top`` (last published top N)."""

    zset: dict[str, float] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)
    exact: dict[str, int] = field(default_factory=dict)
    version: int = 0
    published_top: tuple[tuple[str, int], ...] | None = None

    def ranked(self) -> list[tuple[str, int]]:
        """(user, exact score) in ``ZREVRANGE`` order: score, then member bytes, both descending."""
        members = sorted(self.zset, key=lambda member: (self.zset[member], member.encode()), reverse=True)
        users = [member.split(":", 1)[1] for member in members]
        return [(user, self.exact[user]) for user in users]


@dataclass
class MemoryBoards:
    top_n: int = 10
    boards: dict[str, MemoryBoard] = field(default_factory=dict)

    async def apply(self, board: str, standings: Iterable[tuple[str, Standing]], now_us: int) -> BoardUpdate:
        """As ``RedisBoards.apply``: all of it at once (nothing awaits in between)."""
        state = self.boards.setdefault(board, MemoryBoard())
        applied = 0
        for user_id, standing in standings:
            if standing.seq <= state.seqs.get(user_id, -1):
                continue
            member = member_for(user_id, standing)
            old = state.members.get(user_id)
            if old is not None and old != member:
                state.zset.pop(old, None)
            if standing.visible:
                state.zset[member] = float(standing.score)
                state.members[user_id] = member
                state.exact[user_id] = standing.score
            else:
                state.zset.pop(member, None)
                state.members.pop(user_id, None)
                state.exact.pop(user_id, None)
            state.seqs[user_id] = standing.seq
            applied += 1
        top = tuple(state.ranked()[:self.top_n])
        changed = top != state.published_top
        if changed:
            state.version = max(state.version + 1, now_us)
            state.published_top = top
        entries = tuple(BoardEntry(rank=i + 1, user_id=user, score=score) for i, (user, score) in enumerate(top))
        return BoardUpdate(board, state.version, changed, entries, applied)

    async def top(self, board: str, limit: int = 10, offset: int = 0) -> tuple[int, list[BoardEntry]]:
        state = self.boards.get(board, MemoryBoard())
        window = state.ranked()[offset:offset + limit]
        return state.version, [BoardEntry(rank=offset + i + 1, user_id=user, score=score)
                               for i, (user, score) in enumerate(window)]

    async def versions(self, boards: Iterable[str]) -> dict[str, int]:
        return {board: self.boards.get(board, MemoryBoard()).version for board in boards}

    def order(self, board: str) -> list[tuple[str, int]]:
        """The whole board, (user, score) in rank order."""
        return self.boards.get(board, MemoryBoard()).ranked()


if TYPE_CHECKING:  # mypy checks that the fake is the port
    _port: BoardsPort = MemoryBoards()
