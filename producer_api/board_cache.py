"""The first page of each live board, held in memory by every api process and answered as ready bytes.

Two inputs keep it, neither of them a request:

- the changes feed (``producer_api.board_feed``) offers each worker-signed ``LeaderboardChanged``: its
  version and top N entries, within milliseconds of the worker's change;
- a check of Redis, about once a second per live board, reads the top N as the Redis path would (one
  atomic read: version, entries and the member count ``total``, which no change record carries: a user
  joining below the top N changes it without a new version). It offers that page too: Redis' version
  can move without a change record (the api's repair of a flushed board rewrites it), and the top N
  Redis answers is what the ordinary path would answer.

A board keeps only the highest version offered; a lower or equal one is ignored. A board is answered
from memory only while all of these hold, else the read goes to Redis as before: the feed has caught up
with the topic and is connected (so a version read early in the replay is never taken for the latest,
and a broken feed means Redis answers); the board is live (``global``, today's ``daily``, this week's
``weekly``: older windows are dropped at the rollover and never held); the last Redis check succeeded
and is recent (``max_check_age_us``); and the version held is at least the one Redis had at that check.
So memory never answers an older top N than Redis held a moment ago, and never one Redis cannot vouch
for (a flushed, incomplete or unreachable Redis fails the check and the board falls back).

``total`` is the one value that may lag, by at most the check interval plus the check's own time.
The validator therefore covers it: the entity tag is ``"<version>.<total>"``, identical for the same
board state whichever path answers, and it changes whenever any byte of a first-page answer can.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scoreboard.domain import boards
from scoreboard.domain.boards import DAY_US
from scoreboard.domain.events import BoardEntry

REDIS = "redis"
"""The ``source`` a cached answer reports: its entries are Redis' published top N, its total Redis'
count, and the body is byte for byte what the Redis path answers for the same state."""


def page_body(board: str, version: int, total: int, source: str, entries: Sequence[BoardEntry]) -> bytes:
    """A page answer's JSON, encoded as Starlette's ``JSONResponse`` encodes it: both paths use this."""
    return json.dumps({"board": board, "version": version, "total": total, "source": source,
                       "entries": [{"rank": e.rank, "user_id": e.user_id, "score": e.score} for e in entries]},
                      ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def entity_tag(version: int, total: int) -> str:
    """The strong validator of a page within the top N: version and total determine every byte of it."""
    return f'"{version}.{total}"'


def live_boards(now_us: int) -> tuple[frozenset[str], int]:
    """The boards ``global``, ``daily`` and ``weekly`` name at ``now_us``, and when that next changes
    (the next UTC midnight: a new day, maybe a new ISO week)."""
    day = datetime.fromtimestamp(now_us / 1_000_000, tz=UTC).date()
    return (frozenset({boards.GLOBAL, boards.daily_id(day), boards.weekly_id(day)}),
            (now_us // DAY_US + 1) * DAY_US)


@dataclass(frozen=True)
class Cached:
    """A ready answer: the body and its entity tag (quoted, as sent)."""

    body: bytes
    etag: str


@dataclass
class _Board:
    version: int
    entries: tuple[BoardEntry, ...]
    checked_version: int = -1
    """The version Redis had at the last good check; -1: no good check since the last failure."""
    total: int = 0
    checked_at_us: int = 0
    bodies: dict[int, Cached] = field(default_factory=dict)
    """Answers by ``limit``, built on first use for the current (version, total)."""


class BoardCache:
    def __init__(self, top_n: int = 10, max_check_age_us: int = 3_000_000) -> None:
        """``top_n``: the entries a change record carries (``SCOREBOARD_TOP_N``); ``max_check_age_us``:
        how old the last Redis check may be before the board is answered from Redis again."""
        self.top_n = top_n
        self.max_check_age_us = max_check_age_us
        self.ready = False
        """Set once the feed caught up with the changes topic; nothing is answered before."""
        self._boards: dict[str, _Board] = {}
        self._live: frozenset[str] = frozenset()
        self._live_until_us = 0

    def offer(self, board: str, version: int, entries: Sequence[BoardEntry], now_us: int) -> bool:
        """Take a change from the feed if it is a live board's newest version; True when taken."""
        if board not in self._live_at(now_us):
            return False
        held = self._boards.get(board)
        if held is not None and version <= held.version:
            return False
        if held is None:
            self._boards[board] = _Board(version, tuple(entries))
        else:
            held.version, held.entries, held.bodies = version, tuple(entries), {}
        return True

    def confirm(self, board: str, version: int, total: int, now_us: int) -> None:
        """Record a good Redis check of ``board``: Redis' version and member count at ``now_us``."""
        held = self._boards.get(board)
        if held is None:
            return
        if held.total != total:
            held.bodies = {}
        held.checked_version, held.total, held.checked_at_us = version, total, now_us

    def check_failed(self, board: str) -> bool:
        """Redis could not vouch for the board (lost, incomplete, unreachable): stop answering it.
        True when memory was answering it until now (worth a log line)."""
        held = self._boards.get(board)
        if held is None or held.checked_version < 0:
            return False
        held.checked_version = -1
        return True

    def to_check(self, now_us: int) -> list[str]:
        """The live boards, the ones the checks read."""
        return sorted(self._live_at(now_us))

    def version_of(self, board: str) -> int:
        """The newest version the feed gave for ``board``; 0 if none."""
        held = self._boards.get(board)
        return 0 if held is None else held.version

    def answer(self, board: str, limit: int, now_us: int) -> Cached | None:
        """The first ``limit`` entries of ``board`` from memory, or None when memory may not answer."""
        held = self._boards.get(board)
        if (held is None or not self.ready or limit > self.top_n or held.checked_version < 0
                or held.checked_version > held.version or now_us - held.checked_at_us > self.max_check_age_us
                or board not in self._live_at(now_us)):
            return None
        found = held.bodies.get(limit)
        if found is None:
            found = Cached(page_body(board, held.version, held.total, REDIS, held.entries[:limit]),
                           entity_tag(held.version, held.total))
            held.bodies[limit] = found
        return found

    def _live_at(self, now_us: int) -> frozenset[str]:
        if now_us >= self._live_until_us:
            self._live, self._live_until_us = live_boards(now_us)
            for board in [b for b in self._boards if b not in self._live]:
                del self._boards[board]  # the rollover: yesterday's daily is no longer anyone's alias
        return self._live
