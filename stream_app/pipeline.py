"""One batch of raw action records -> ledger, boards, and the change events; retried until durable.

The order is the safety argument: (1) one Postgres transaction decides what counts, (2) Redis gets
absolute, sequence-checked standings, (3) ScoreChanged and LeaderboardChanged are acknowledged by
Kafka, and only then (4) the caller lets the offsets be committed. A crash anywhere before (4)
replays the batch; the ledger recognises the replay and (2)-(3) are repeated harmlessly.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from projections.ledger import AppliedBatch, Ledger
from projections.ranking import Boards, BoardUpdate
from stream_app.chaos import CrashPlan
from scoreboard import codec
from scoreboard.clock import Clock
from scoreboard.cloudevents import cloud_event_headers
from scoreboard.errors import DecodeError
from scoreboard.events import (
    ActionCompleted,
    LeaderboardChanged,
    RejectedAction,
    ScoreAdjusted,
    ScoreChanged,
    UserBanned,
    UserUnbanned,
)
from scoreboard.publishing import Publisher
from scoreboard.scoring import BatchOutcome, BoardUser, Positioned, Rejection, Standing
from scoreboard.topics import LEADERBOARD_CHANGES, REJECTED, SCORE_CHANGES

log = logging.getLogger(__name__)
LOG_EVENTS = (ActionCompleted, ScoreAdjusted, UserBanned, UserUnbanned)


@dataclass(frozen=True)
class RawRecord:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


@dataclass(frozen=True)
class BatchReport:
    accepted: int
    replayed: int
    duplicates: int
    rejected: int
    boards_changed: int
    event_ids: tuple[str, ...] = ()
    request_ids: tuple[str, ...] = ()
    rejection_reasons: tuple[str, ...] = ()


class Pipeline:
    def __init__(self, ledger: Ledger, boards: Boards, publisher: Publisher, clock: Clock,
                 source: str = "/scoreboard/worker", crash_plan: CrashPlan | None = None) -> None:
        self._source = source
        self._crash = crash_plan or CrashPlan()
        self._ledger = ledger
        self._boards = boards
        self._publisher = publisher
        self._clock = clock

    async def process(self, records: Sequence[RawRecord], *, announce: bool = True) -> BatchReport:
        """Apply a batch; with ``announce`` false (a rebuild) nothing is published downstream."""
        events, undecodable = self._decode(records)
        now = self._clock.now_us()
        applied = await self._ledger.apply_batch(events, now) if events else AppliedBatch(BatchOutcome())
        self._crash.point("after_ledger_commit")
        updates = await self._write_boards(applied.standings_to_write(), now)
        self._crash.point("after_redis_write")
        replayed_boards = {board for board, _ in applied.replayed_standings}
        to_publish = [u for u in updates if u.changed or u.board in replayed_boards]
        outcome = applied.outcome
        rejections = [*outcome.rejected, *applied.replayed_rejections, *undecodable]
        if announce:
            await self._publish(outcome.score_changes(applied.replayed_entries), to_publish, rejections, now)
            await self._republish_if_overtaken(to_publish)
            self._crash.point("after_kafka_publish")
        accepted_ids = {e.event_id for e in outcome.accepted}
        return BatchReport(len(outcome.accepted), len(outcome.replayed), len(outcome.duplicates),
                           len(rejections), sum(1 for u in updates if u.changed),
                           event_ids=tuple(e.event_id for e in outcome.accepted),
                           request_ids=tuple(p.event.request_id for p in events
                                             if isinstance(p.event, ActionCompleted) and p.event.request_id
                                             and p.event.event_id in accepted_ids),
                           rejection_reasons=tuple(r.reason.split(":")[0] for r in rejections))

    def _decode(self, records: Sequence[RawRecord]) -> tuple[list[Positioned], list[Rejection]]:
        events: list[Positioned] = []
        rejected: list[Rejection] = []
        for record in records:
            try:
                event = codec.decode(record.value or b"")
                if not isinstance(event, LOG_EVENTS):
                    raise DecodeError(f"{type(event).__name__} does not belong on the actions topic")
            except DecodeError as exc:
                user = (record.key or b"").decode(errors="replace")
                log.warning("rejecting record p%d@%d: %s", record.partition, record.offset, exc)
                rejected.append(Rejection("", user, f"undecodable: {exc}", record.partition, record.offset,
                                          self._clock.now_us()))
                continue
            events.append(Positioned(event, record.partition, record.offset))
        return events, rejected

    async def _write_boards(self, standings: dict[BoardUser, Standing], now: int) -> list[BoardUpdate]:
        per_board: dict[str, list[tuple[str, Standing]]] = defaultdict(list)
        for (board, user_id), standing in standings.items():
            per_board[board].append((user_id, standing))
        return list(await asyncio.gather(*(self._boards.apply(b, s, now) for b, s in sorted(per_board.items()))))

    async def _publish(self, changes: Sequence[ScoreChanged], updates: Sequence[BoardUpdate],
                       rejected: Sequence[Rejection], now: int) -> None:
        records: list[tuple[str, str, bytes, Sequence[tuple[str, bytes]]]] = []
        for change in changes:
            records.append((SCORE_CHANGES, change.user_id, codec.encode(change),
                            cloud_event_headers(change.event_id, "ScoreChanged", self._source, now)))
        for update in updates:
            event = LeaderboardChanged(update.board, update.version, update.entries, now)
            records.append((LEADERBOARD_CHANGES, update.board, codec.encode(event),
                            cloud_event_headers(f"{update.board}@{update.version}", "LeaderboardChanged",
                                                self._source, now)))
        for r in rejected:
            reject = RejectedAction(r.event_id, r.user_id, r.reason, r.partition, r.offset, r.rejected_at_us)
            records.append((REJECTED, r.user_id, codec.encode(reject),
                            cloud_event_headers(r.event_id or f"{r.partition}@{r.offset}", "RejectedAction",
                                                self._source, now)))
        if records:
            await self._publisher.publish_many(records)

    async def announce_boards(self, boards: Sequence[str]) -> None:
        """Publish the current top N of each board (after a rebuild, so gateways show the new state)."""
        now = self._clock.now_us()
        records: list[tuple[str, str, bytes, Sequence[tuple[str, bytes]]]] = []
        for board in boards:
            version, entries = await self._boards.top(board, self._boards.top_n)
            event = LeaderboardChanged(board, max(version, now), tuple(entries), now)
            records.append((LEADERBOARD_CHANGES, board, codec.encode(event),
                            cloud_event_headers(f"{board}@{event.board_version}", "LeaderboardChanged",
                                                self._source, now)))
        if records:
            await self._publisher.publish_many(records)

    async def _republish_if_overtaken(self, published: Sequence[BoardUpdate]) -> None:
        """Another worker may have bumped a board and published before us; make the newest state last."""
        for update in published:
            version, entries = await self._boards.top(update.board, self._boards.top_n)
            if version > update.version:
                now = self._clock.now_us()
                event = LeaderboardChanged(update.board, version, tuple(entries), now)
                await self._publisher.publish(
                    LEADERBOARD_CHANGES, update.board, codec.encode(event),
                    cloud_event_headers(f"{update.board}@{version}", "LeaderboardChanged", self._source, now))

