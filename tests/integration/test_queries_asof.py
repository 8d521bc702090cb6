"""Point-in-time boards from the ledger equal what the scoring core decided up to that moment, with the
same tie order, on real Postgres; and the Postgres standings rank exactly like the core."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from devstack.worlds import World, isolated_world
from projections.asof import LedgerAsOf
from projections.ledger import ENTRY_COLUMNS
from projections.standings import Standings
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import (
    ActionCompleted,
    LogEvent,
    ScoreAdjusted,
    UserBanned,
    UserUnbanned,
)
from scoreboard.domain.records import ENTRY_FIELDS
from scoreboard.domain.scoring import (
    BatchOutcome,
    Known,
    Positioned,
    apply_log,
    rank_order,
)

START = to_micros(datetime(2024, 3, 9, 22, tzinfo=UTC))
STEP = 970_000_000  # ten events share each moment; 3,000 events span about 3.4 days: 4-5 days, 2 weeks
Ranked = list[tuple[int, str, int]]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with isolated_world() as created:
        yield created


def tied_log(count: int, users: int, seed: int) -> list[LogEvent]:
    """Few distinct points (zero included) and ten events per moment, so users often tie on score and
    on tie time; frequent ban toggles, adjustments both ways, and retried nonces."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:4]
    names = [f"u{i:03d}-{run}" for i in range(users)]
    banned: set[str] = set()
    sent: list[ActionCompleted] = []
    events: list[LogEvent] = []
    for i in range(count):
        at, user, roll = START + (i // 10) * STEP, rng.choice(names), rng.random()
        if roll < 0.03:
            kind = UserUnbanned if user in banned else UserBanned
            banned.symmetric_difference_update({user})
            events.append(kind(str(uuid.uuid4()), user, "test", "root", at))
        elif roll < 0.06:
            events.append(ScoreAdjusted(str(uuid.uuid4()), user, rng.choice([-50, -25, 25, 50]), "test", "root",
                                        f"adj-{i}", at))
        elif roll < 0.1 and sent:
            again = rng.choice(sent)
            events.append(ActionCompleted(str(uuid.uuid4()), again.user_id, again.action_id, again.nonce,
                                          again.points, "test", at))
        else:
            sent.append(ActionCompleted(str(uuid.uuid4()), user, "win-match", f"n-{i}", rng.choice([0, 25, 50]),
                                        "test", at))
            events.append(sent[-1])
    return events


def decide(events: Sequence[LogEvent]) -> BatchOutcome:
    return apply_log([Positioned(e, 0, i) for i, e in enumerate(events)], Known(), now_us=0)


def expected_boards(outcome: BatchOutcome) -> dict[str, Ranked]:
    by_board: dict[str, dict[str, object]] = {}
    for (board, user), standing in outcome.changed.items():
        by_board.setdefault(board, {})[user] = standing
    return {board: [(i + 1, u, s.score) for i, (u, s) in enumerate(rank_order(users))]  # type: ignore[arg-type]
            for board, users in by_board.items()}


def write(database_url: str, events: Sequence[LogEvent], outcome: BatchOutcome) -> None:
    """What the worker would have committed: ledger in log order, standings, statuses, ban history."""
    banned: set[str] = set()
    history = []
    for i, event in enumerate(events):
        if isinstance(event, (UserBanned, UserUnbanned)) and (event.user_id in banned) != isinstance(event, UserBanned):
            banned.symmetric_difference_update({event.user_id})
            history.append((event.event_id, event.user_id, isinstance(event, UserBanned), event.occurred_at_us,
                            event.reason, 0, i))
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        marks = ", ".join(["%s"] * len(ENTRY_FIELDS))
        cur.executemany(f"INSERT INTO ledger ({ENTRY_COLUMNS}) VALUES ({marks})",
                        [tuple(getattr(e, f) for f in ENTRY_FIELDS) for e in outcome.accepted])
        cur.executemany("INSERT INTO board_scores (board, user_id, score, seq, reached_at_us, visible)"
                        " VALUES (%s, %s, %s, %s, %s, %s)",
                        [(b, u, s.score, s.seq, s.reached_at_us, s.visible) for (b, u), s in outcome.changed.items()])
        cur.executemany("INSERT INTO user_status (user_id, banned, event_id, changed_at_us, reason)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        [(u, s.banned, s.event_id, s.changed_at_us, s.reason) for u, s in outcome.statuses.items()])
        cur.executemany("INSERT INTO ban_history (event_id, user_id, banned, changed_at_us, reason,"
                        " kafka_partition, kafka_offset) VALUES (%s, %s, %s, %s, %s, %s, %s)", history)


def read_all(database_url: str, boards: Sequence[str], at_us: int | None) -> dict[str, Ranked]:
    async def read() -> dict[str, Ranked]:
        async with AsyncConnectionPool(database_url, min_size=1, max_size=2) as pool:
            reader = Standings(pool) if at_us is None else LedgerAsOf(pool, at_us)
            found = {}
            for board in boards:
                page = await reader.page(board, 100_000, 0)
                found[board] = [(e.rank, e.user_id, e.score) for e in page.entries]
            return found

    return asyncio.run(read())


def test_as_of_any_moment_equals_the_core_applied_up_to_that_moment(world: World) -> None:
    """Actions with duplicates, zero-sum adjustments, bans and unbans: at six moments, every daily,
    weekly and the global board as of then equals ``apply_log`` on the events up to then, ranked by
    ``rank_order``; the live Postgres standings equal the final state."""
    events = tied_log(3000, 120, seed=11)
    final = decide(events)
    write(world.database_url, events, final)
    boards = sorted({board for board, _ in final.changed})
    assert len(boards) >= 6
    assert read_all(world.database_url, boards, None) == expected_boards(final)
    last = max(e.occurred_at_us for e in events)
    moments = [START - 1, START, START + STEP // 2, last, *(START + k * 25 * STEP for k in range(1, 12))]
    for at in moments:
        prefix = [e for e in events if e.occurred_at_us <= at]
        expected = expected_boards(decide(prefix))
        found = read_all(world.database_url, boards, at)
        assert found == {board: expected.get(board, []) for board in boards}, at
