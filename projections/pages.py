"""What a board read answers, whichever projection answers it: Redis, Postgres standings or the ledger.

Every reader ranks the same way (``scoreboard.domain.scoring.rank_order``): score descending, then who
reached that score first, then user id in descending byte order. Only visible (not banned) users
are ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from scoreboard.domain.events import BoardEntry


@dataclass(frozen=True)
class Page:
    """``entries`` from rank ``offset + 1``; ``total`` counts every ranked user of the board."""

    version: int
    total: int
    entries: tuple[BoardEntry, ...]


@dataclass(frozen=True)
class Placement:
    """One user's place on a board and the entries ``radius`` ranks above and below it."""

    version: int
    total: int
    entry: BoardEntry
    neighbours: tuple[BoardEntry, ...]


class BoardReader(Protocol):
    async def page(self, board: str, limit: int, offset: int) -> Page: ...

    async def placement(self, board: str, user_id: str, radius: int = 0) -> Placement | None: ...
