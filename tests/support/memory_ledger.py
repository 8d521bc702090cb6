"""An in-memory stand-in for the Postgres ledger adapter (``stream_app.ports.LedgerPort``), over the
same pure core. ``tests/contracts/ledger_contract.py`` holds it to the real ledger's behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from projections.ledger import AppliedBatch
from scoreboard.domain.boards import boards_for
from scoreboard.domain.detection import DetectionConfig, PartitionDetectors
from scoreboard.domain.events import ActionCompleted, ActionsPurged, ScoreAdjusted, ScoreChanged
from scoreboard.domain.moderation import WORKER, conceal, purge_matches, reviewed_since
from scoreboard.domain.policy import Judge, Usage, UsageKey
from scoreboard.domain.records import HELD, Review
from scoreboard.domain.scoring import (
    BatchOutcome,
    BoardUser,
    Detectors,
    Known,
    LedgerEntry,
    Positioned,
    Rejection,
    Standing,
    StatusChange,
    UserStatus,
    apply_log,
    keys_needed,
    ledger_nonce,
    usage_needed,
)
from stream_app.ports import LedgerPort

LogPosition = tuple[int, int]
"""(partition, offset)."""


@dataclass
class MemoryLedger:
    """The ledger's tables as dicts: ``ledger``, ``board_scores``, ``user_status``, ``ban_history``,
    ``rejections``, ``usage_counters`` and ``log_positions``."""

    next_offsets: dict[int, int] = field(default_factory=dict)
    entries: dict[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    standings: dict[BoardUser, Standing] = field(default_factory=dict)
    statuses: dict[str, UserStatus] = field(default_factory=dict)
    judge: Judge | None = None
    usage: dict[UsageKey, Usage] = field(default_factory=dict)
    rejections: dict[LogPosition, Rejection] = field(default_factory=dict)
    ban_history: dict[str, StatusChange] = field(default_factory=dict)
    detection: DetectionConfig | None = None
    reviews: dict[str, Review] = field(default_factory=dict)
    """The latest review of each user."""
    first_seen: dict[str, int] = field(default_factory=dict)
    moderation_changes: dict[LogPosition, list[ScoreChanged]] = field(default_factory=dict)
    detectors: dict[int, Detectors] = field(default_factory=dict)
    """Per partition; made from ``detection`` when absent (a test may hand in its own)."""

    async def apply_batch(self, batch: Sequence[Positioned], now_us: int) -> AppliedBatch:
        """As ``projections.ledger.Ledger.apply_batch``: all or nothing (nothing awaits in between),
        replays change nothing and bring back their entries, rejections and current standings."""
        return self._commit(batch, now_us)

    async def record_poison(self, rejection: Rejection) -> None:
        self.rejections.setdefault((rejection.partition, rejection.offset), rejection)

    def apply_batch_sync(self, batch: Sequence[Positioned], now_us: int = 0) -> BatchOutcome:
        """``apply_batch`` without the event loop, for the pure tests: what the core decided."""
        return self._commit(batch, now_us).outcome

    def _commit(self, batch: Sequence[Positioned], now_us: int) -> AppliedBatch:
        if self.detection is not None:
            for partition in {p.partition for p in batch}:
                self.detectors.setdefault(partition, PartitionDetectors(self.detection))
        detectors = self.detectors or None
        outcome = apply_log(batch, self._known(batch), now_us, self.judge, detectors)
        if outcome.conceal:
            conceal(outcome, self._standings(set(), outcome.conceal))
        self._write(outcome)
        applied = AppliedBatch(outcome)
        if outcome.replayed:
            self._load_replayed(outcome.replayed, applied)
        holders = {e.user_id for e in [*outcome.held, *applied.replayed_entries] if e.state == HELD}
        if holders:
            totals = dict.fromkeys(sorted(holders), 0)
            for entry in self.entries.values():
                if entry.state == HELD and entry.user_id in totals:
                    totals[entry.user_id] += entry.points
            applied.held_totals = totals
        return applied

    def visible_scores(self, board: str) -> dict[str, int]:
        return {u: s.score for (b, u), s in self.standings.items() if b == board and s.visible}

    def _known(self, batch: Sequence[Positioned]) -> Known:
        keys, whole_users = keys_needed(batch, self.judge)
        counters = usage_needed(batch, self.judge) if self.judge else set()
        scored = [p.event for p in batch if isinstance(p.event, (ActionCompleted, ScoreAdjusted))]
        wanted = {(e.user_id, ledger_nonce(e)) for e in scored}
        users = {p.event.user_id for p in batch}
        reviews = {u: r for u, r in self.reviews.items() if u in users}
        since = reviewed_since(batch, reviews)
        reviewed = {u: [e for e in sorted(self.entries.values(), key=lambda e: (e.partition, e.offset))
                        if e.user_id == u and (e.state == HELD or (e.state == "counted" and e.occurred_at_us >= t))]
                    for u, t in since.items()}
        matches = {(p.partition, p.event.event_id): [e for e in sorted(self.entries.values(), key=lambda e: e.offset)
                                      if e.partition == p.partition and e.state != "voided"
                                      and purge_matches(p.event, e)]
                   for p in batch if isinstance(p.event, ActionsPurged)}
        for matched in matches.values():
            keys.update((board, e.user_id) for e in matched for board in boards_for(e.occurred_at_us))
        standings = self._standings(keys, whole_users)
        return Known(
            next_offsets=dict(self.next_offsets),
            entries={k: e for k, e in self.entries.items() if k in wanted},
            standings=standings,
            statuses={u: s for u, s in self.statuses.items() if u in {p.event.user_id for p in batch}},
            boards_of_user={u: frozenset(b for b, x in standings if x == u) for u in whole_users},
            usage={k: v for k, v in self.usage.items() if k in counters},
            reviews=reviews,
            first_seen={u: t for u, t in self.first_seen.items() if u in users},
            reviewed_entries=reviewed,
            purge_matches=matches,
        )

    def _write(self, outcome: BatchOutcome) -> None:
        for entry in outcome.accepted:
            self.entries[(entry.user_id, entry.nonce)] = entry
        self.standings.update(outcome.changed)
        self.statuses.update(outcome.statuses)
        for change in outcome.status_changes:
            self.ban_history.setdefault(change.event_id, change)
        for rejection in outcome.rejected:
            self.rejections[(rejection.partition, rejection.offset)] = rejection
        self.usage.update(outcome.usage)
        self.next_offsets.update(outcome.next_offsets)
        self.reviews.update(outcome.reviews)
        for partition, offset, moved in outcome.moderated:
            self.moderation_changes.setdefault((partition, offset), []).append(moved)
        for user_id, seen in outcome.first_seen.items():
            self.first_seen.setdefault(user_id, seen)
        for key, state in outcome.entry_states.items():
            self.entries[key] = replace(self.entries[key], state=state)

    def _load_replayed(self, replayed: Sequence[Positioned], applied: AppliedBatch) -> None:
        positions = {(p.partition, p.offset) for p in replayed}
        applied.replayed_entries = sorted((e for e in self.entries.values() if (e.partition, e.offset) in positions),
                                          key=lambda e: (e.partition, e.offset))
        applied.replayed_rejections = [r for position, r in sorted(self.rejections.items()) if position in positions]
        keys, whole_users = keys_needed(replayed)
        applied.replayed_standings = self._standings(keys, whole_users)
        applied.replayed_moderation = [c for position, changes in sorted(self.moderation_changes.items())
                                       if position in positions for c in changes]
        applied.replayed_flags = sorted((r for r in self.reviews.values() if (r.partition, r.offset) in positions
                                         and r.flagged_by == WORKER), key=lambda r: (r.partition, r.offset))

    def _standings(self, keys: set[BoardUser], whole_users: set[str]) -> dict[BoardUser, Standing]:
        return {k: s for k, s in sorted(self.standings.items()) if k in keys or k[1] in whole_users}


if TYPE_CHECKING:  # mypy checks that the fake is the port
    _port: LedgerPort = MemoryLedger()
