"""How the ledger contract's scenarios run (``tests.contracts.ledger_contract``): a ledger opened for each,
a log with a partition and users of the test's own, builders of each event kind, and the catalog and judge
the policy tests use."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TypeVar

from scoreboard.domain.boards import boards_for
from scoreboard.domain.catalog import Catalogs, parse_catalog
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import (
    ActionCompleted,
    LogEvent,
    ReviewDecided,
    ScoreAdjusted,
    UserFlagged,
)
from scoreboard.domain.policy import Judge
from scoreboard.domain.scoring import Positioned, Standing
from stream_app.ports import LedgerPort

SECOND = 1_000_000
T0 = to_micros(datetime(2026, 11, 30, 10, tzinfo=UTC))  # a Monday: the day before is in another ISO week
NOW = T0 + 5 * SECOND
CATALOG = parse_catalog({
    "version": "c1",
    "limits": {"max_points_per_hour": 300, "max_points_per_day": 1000},
    "actions": {
        "login": {"points": 5, "daily_cap": 1},
        "match": {"points": 100, "cooldown_seconds": 60},
        "level": {"points": 50, "daily_cap": 100},
    },
})
JUDGE = Judge(Catalogs(CATALOG, {"c1": CATALOG}), max_skew_us=300 * SECOND)


T = TypeVar("T")
OpenLedger = Callable[[Judge | None], AbstractAsyncContextManager[LedgerPort]]
"""Opens a ledger that judges the policy with the judge given (None: the mechanics only)."""


def run(open_ledger: OpenLedger, scenario: Callable[[LedgerPort], Awaitable[T]], judge: Judge | None = None) -> T:
    async def main() -> T:
        async with open_ledger(judge) as ledger:
            return await scenario(ledger)

    return asyncio.run(main())


class Log:
    """A partition of this test's own, and users named for this test only."""

    def __init__(self) -> None:
        self.run = uuid.uuid4().hex[:8]
        self.partition = random.randrange(1_000, 2**31 - 1)
        self.offset = 0

    def user(self, name: str) -> str:
        return f"{name}-{self.run}"

    def append(self, *events: LogEvent, partition: int | None = None) -> list[Positioned]:
        """The events at the next offsets; the broker's time is each event's own (no skew)."""
        batch = [Positioned(e, self.partition if partition is None else partition, self.offset + i, e.occurred_at_us)
                 for i, e in enumerate(events)]
        self.offset += len(events)
        return batch


def act(user: str, nonce: str, points: int, at: int = T0, action: str = "match",
        version: str = "c1") -> ActionCompleted:
    return ActionCompleted(f"{user}/{nonce}/{uuid.uuid4().hex[:6]}", user, action, nonce, points, version, at)


def adjust(user: str, key: str, delta: int, at: int = T0) -> ScoreAdjusted:
    return ScoreAdjusted(f"admin/{user}/{key}", user, delta, "support ticket", "root", key, at)


def on_boards(user: str, standing: Standing, at: int = T0) -> dict[tuple[str, str], Standing]:
    return {(board, user): standing for board in boards_for(at)}


def flagged_by_hand(user: str, at: int) -> UserFlagged:
    return UserFlagged(f"flag/{user}/{at}", user, "manual", '{"summary": "report"}', at, False, "mod", -1, -1, at)


def decided(user: str, decision: str, at: int) -> ReviewDecided:
    return ReviewDecided(f"decide/{user}/{at}", user, decision, "mod", "checked", at)
