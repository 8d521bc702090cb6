"""An in-memory stand-in for the Postgres ledger adapter, over the same pure core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scoreboard.domain.events import ActionCompleted, ScoreAdjusted
from scoreboard.domain.policy import Judge, Usage, UsageKey
from scoreboard.domain.scoring import (
    BatchOutcome,
    BoardUser,
    Known,
    LedgerEntry,
    Positioned,
    Standing,
    UserStatus,
    apply_log,
    keys_needed,
    ledger_nonce,
    usage_needed,
)


@dataclass
class MemoryLedger:
    next_offsets: dict[int, int] = field(default_factory=dict)
    entries: dict[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    standings: dict[BoardUser, Standing] = field(default_factory=dict)
    statuses: dict[str, UserStatus] = field(default_factory=dict)
    judge: Judge | None = None
    usage: dict[UsageKey, Usage] = field(default_factory=dict)

    def apply_batch(self, batch: Sequence[Positioned], now_us: int = 0) -> BatchOutcome:
        keys, whole_users = keys_needed(batch, self.judge)
        counters = usage_needed(batch, self.judge) if self.judge else set()
        scored = [p.event for p in batch if isinstance(p.event, (ActionCompleted, ScoreAdjusted))]
        wanted = {(e.user_id, ledger_nonce(e)) for e in scored}
        standings = {k: s for k, s in self.standings.items() if k in keys or k[1] in whole_users}
        known = Known(
            next_offsets=dict(self.next_offsets),
            entries={k: e for k, e in self.entries.items() if k in wanted},
            standings=standings,
            statuses={u: s for u, s in self.statuses.items() if u in {p.event.user_id for p in batch}},
            boards_of_user={u: frozenset(b for b, x in standings if x == u) for u in whole_users},
            usage={k: v for k, v in self.usage.items() if k in counters},
        )
        outcome = apply_log(batch, known, now_us, self.judge)
        self.usage.update(outcome.usage)
        for entry in outcome.accepted:
            self.entries[(entry.user_id, entry.nonce)] = entry
        self.standings.update(outcome.changed)
        self.statuses.update(outcome.statuses)
        self.next_offsets.update(outcome.next_offsets)
        return outcome

    def visible_scores(self, board: str) -> dict[str, int]:
        return {u: s.score for (b, u), s in self.standings.items() if b == board and s.visible}
