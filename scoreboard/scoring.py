"""The pure scoring core: dedup decisions and new standings for one batch of actions.

No I/O here. The ledger adapter loads what the batch needs to know (which nonces exist, the current
standings it touches), calls :func:`apply_actions`, and writes the outcome in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scoreboard.boards import GLOBAL, boards_for
from scoreboard.events import ActionCompleted, ScoreChanged


@dataclass(frozen=True)
class Positioned:
    """An event with the place in the log it was read from."""

    event: ActionCompleted
    partition: int
    offset: int


@dataclass(frozen=True)
class LedgerEntry:
    """An accepted action as the ledger keeps it."""

    event_id: str
    user_id: str
    nonce: str
    action_id: str
    points: int
    catalog_version: str
    occurred_at_us: int
    partition: int
    offset: int
    total_after: int


@dataclass(frozen=True)
class Standing:
    """A user's score on one board. ``seq`` counts the entries applied, so stale writes can be refused;
    ``reached_at_us`` is when the user reached this score, the tie-breaker (earlier ranks higher)."""

    score: int
    seq: int
    reached_at_us: int


BoardUser = tuple[str, str]


@dataclass
class BatchOutcome:
    accepted: list[LedgerEntry] = field(default_factory=list)
    replayed: list[LedgerEntry] = field(default_factory=list)
    duplicates: list[ActionCompleted] = field(default_factory=list)
    changed: dict[BoardUser, Standing] = field(default_factory=dict)
    touched: set[BoardUser] = field(default_factory=set)
    replay_touched: set[BoardUser] = field(default_factory=set)

    def score_changes(self) -> list[ScoreChanged]:
        """ScoreChanged for every accepted entry and every crash replay, in log order."""
        entries = sorted(self.accepted + self.replayed, key=lambda e: (e.partition, e.offset))
        return [
            ScoreChanged(
                event_id=e.event_id,
                user_id=e.user_id,
                action_id=e.action_id,
                points=e.points,
                total=e.total_after,
                occurred_at_us=e.occurred_at_us,
            )
            for e in entries
        ]


def apply_actions(
    batch: Sequence[Positioned],
    known: Mapping[tuple[str, str], LedgerEntry],
    standings: Mapping[BoardUser, Standing],
) -> BatchOutcome:
    """Decide, in log order, which actions count, and the standings they lead to.

    ``known`` holds the ledger entries already recorded for the batch's (user_id, nonce) pairs;
    ``standings`` the current standings of every (board, user) the batch touches (absent = zero).
    An action whose nonce is known with the same event_id is a replay (re-emitted, not re-counted);
    with another event_id it is a duplicate (dropped).
    """
    outcome = BatchOutcome()
    seen: dict[tuple[str, str], LedgerEntry] = dict(known)
    current: dict[BoardUser, Standing] = dict(standings)
    for item in batch:
        action = item.event
        key = (action.user_id, action.nonce)
        previous = seen.get(key)
        if previous is not None:
            if previous.event_id == action.event_id:
                outcome.replayed.append(previous)
                replay_keys = {(b, action.user_id) for b in boards_for(previous.occurred_at_us)}
                outcome.touched.update(replay_keys)
                outcome.replay_touched.update(replay_keys)
            else:
                outcome.duplicates.append(action)
            continue
        total_after = 0
        for board in boards_for(action.occurred_at_us):
            before = current.get((board, action.user_id), Standing(0, 0, 0))
            after = Standing(before.score + action.points, before.seq + 1, action.occurred_at_us)
            current[(board, action.user_id)] = after
            outcome.changed[(board, action.user_id)] = after
            outcome.touched.add((board, action.user_id))
            if board == GLOBAL:
                total_after = after.score
        entry = LedgerEntry(
            event_id=action.event_id,
            user_id=action.user_id,
            nonce=action.nonce,
            action_id=action.action_id,
            points=action.points,
            catalog_version=action.catalog_version,
            occurred_at_us=action.occurred_at_us,
            partition=item.partition,
            offset=item.offset,
            total_after=total_after,
        )
        seen[key] = entry
        outcome.accepted.append(entry)
    return outcome


def rank_order(standings: Mapping[str, Standing]) -> list[tuple[str, Standing]]:
    """Users in board order: higher score first, then who reached that score first, then user id in
    descending byte order (the order a Redis ZSET gives equal members, so both agree exactly)."""
    by_user = sorted(standings.items(), key=lambda item: item[0].encode(), reverse=True)
    return sorted(by_user, key=lambda item: (-item[1].score, item[1].reached_at_us))
