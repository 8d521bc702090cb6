"""One batch of raw action records -> ledger, boards, and the change events; retried until durable.

Before anything else each record's signature is verified (only the api holds the event signing key)
and its key must name the event's user; what fails is rejected (``signature``, ``key-mismatch``,
``undecodable``) and never reaches the ledger. The ledger then judges the catalog's policy.

The order is the safety argument: (1) one Postgres transaction decides what counts, (2) Redis gets
absolute, sequence-checked standings, (3) ScoreChanged and LeaderboardChanged are acknowledged by
Kafka, and only then (4) the caller lets the offsets be committed. A crash anywhere before (4)
replays the batch; the ledger recognises the replay and (2)-(3) are repeated harmlessly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from projections.ledger import AppliedBatch
from projections.ranking import BoardUpdate
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.adapters.tracing import Tracing
from scoreboard.domain.clock import Clock
from scoreboard.domain.errors import DecodeError
from scoreboard.domain.events import (
    ActionCompleted,
    ActionsPurged,
    LeaderboardChanged,
    PointsHeld,
    RejectedAction,
    ReviewDecided,
    ScoreAdjusted,
    ScoreChanged,
    UserBanned,
    UserFlagged,
    UserUnbanned,
)
from scoreboard.domain.moderation import WORKER
from scoreboard.domain.records import HELD, LedgerEntry, Review
from scoreboard.domain.scoring import (
    BatchOutcome,
    BoardUser,
    Positioned,
    Rejection,
    Standing,
)
from scoreboard.domain.signing import ANY_PARTITION, SignatureInvalid, SigningKeyring
from scoreboard.domain.topics import (
    ACTIONS,
    LEADERBOARD_CHANGES,
    REJECTED,
    SCORE_CHANGES,
)
from stream_app.chaos import CrashPlan
from stream_app.event_spans import EventSpans
from stream_app.ports import BoardsPort, ChangePublisher, ChangeRecord, LedgerPort

log = logging.getLogger(__name__)
LOG_EVENTS = (ActionCompleted, ScoreAdjusted, UserBanned, UserUnbanned, UserFlagged, ReviewDecided, ActionsPurged)


@dataclass(frozen=True)
class RawRecord:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp_us: int = 0
    """The broker's record timestamp (0: unknown)."""


def header_pairs(headers: object) -> list[tuple[str, bytes]]:
    """Kafka headers as (name, bytes) pairs, from any client's shape (list of pairs, or a dict)."""
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    pairs: list[tuple[str, bytes]] = []
    for name, value in items:  # type: ignore[attr-defined]
        if value.__class__ is bytes:  # the usual case (confluent-kafka, aiokafka): taken as it is
            pairs.append((name, value))
        else:
            pairs.append((str(name), value.encode() if isinstance(value, str) else bytes(value or b"")))
    return pairs


def printable(raw: bytes | None, limit: int = 128) -> str:
    """A record key fit for logs, reasons and Postgres text (no NUL or control characters)."""
    text = (raw or b"").decode(errors="replace")
    return "".join(c if c.isprintable() else "\ufffd" for c in text)[:limit]


StageSeconds = tuple[float, float, float]


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
    audit_records: int = 0
    """The worker's own audit records (flags, held points) read back from the actions topic: no effect."""
    stage_seconds: StageSeconds = (0.0, 0.0, 0.0)
    """Wall time of the batch's three stages: the ledger transaction, the Redis boards, the publication."""


class Pipeline:
    def __init__(self, ledger: LedgerPort, boards: BoardsPort, publisher: ChangePublisher, clock: Clock,
                 events: SigningKeyring, changes: SigningKeyring,
                 source: str = "/scoreboard/worker", crash_plan: CrashPlan | None = None,
                 tracing: Tracing | None = None) -> None:
        """``events`` verifies the action records; ``changes`` signs what the worker writes; ``tracing``
        continues the traces the action records carry (``stream_app.event_spans``)."""
        self._events = events
        self._tracing = tracing or Tracing()
        self._changes = changes
        self._source = source
        self._crash = crash_plan or CrashPlan()
        self._ledger = ledger
        self._boards = boards
        self._publisher = publisher
        self._clock = clock

    async def process(self, records: Sequence[RawRecord], *, announce: bool = True) -> BatchReport:
        """Apply a batch; with ``announce`` false (a rebuild) nothing is published downstream."""
        events, undecodable, audit = self._decode(records)
        spans = EventSpans(self._tracing, events if announce else (),
                           {(r.partition, r.offset): r.headers for r in records} if self._tracing.enabled else {})
        try:
            applied, updates, rejections, stages = await self._apply(events, undecodable, spans, announce)
        except BaseException as exc:
            spans.end(exc)
            raise
        spans.end()
        outcome = applied.outcome
        accepted_ids = {e.event_id for e in outcome.accepted}
        return BatchReport(len(outcome.accepted), len(outcome.replayed), len(outcome.duplicates),
                           len(rejections), sum(1 for u in updates if u.changed),
                           event_ids=tuple(e.event_id for e in outcome.accepted),
                           request_ids=tuple(p.event.request_id for p in events
                                             if isinstance(p.event, ActionCompleted) and p.event.request_id
                                             and p.event.event_id in accepted_ids),
                           rejection_reasons=tuple(r.reason.split(":")[0] for r in rejections),
                           audit_records=audit, stage_seconds=stages)

    async def _apply(self, events: list[Positioned], undecodable: list[Rejection], spans: EventSpans,
                     announce: bool) -> tuple[AppliedBatch, list[BoardUpdate], list[Rejection], StageSeconds]:
        now = self._clock.now_us()
        started = time.perf_counter()
        applied = await self._ledger.apply_batch(events, now) if events else AppliedBatch(BatchOutcome())
        ledger_done = time.perf_counter()
        spans.judged(applied.outcome)
        self._crash.point("after_ledger_commit")
        standings = applied.standings_to_write()
        updates = await self._write_boards(standings, now)
        boards_done = time.perf_counter()
        self._crash.point("after_redis_write")
        replayed_boards = {board for board, _ in applied.replayed_standings}
        to_publish = [u for u in updates if u.changed or u.board in replayed_boards]
        outcome = applied.outcome
        rejections = [*outcome.rejected, *applied.replayed_rejections, *undecodable]
        if announce:
            await self._publish(outcome.score_changes(applied.replayed_entries) + applied.replayed_moderation,
                                to_publish, rejections, now, spans, spans.of_boards(standings),
                                self._audit(applied, now))
            await self._republish_if_overtaken(to_publish)
            self._crash.point("after_kafka_publish")
        stages = (ledger_done - started, boards_done - ledger_done, time.perf_counter() - boards_done)
        return applied, updates, rejections, stages

    def _decode(self, records: Sequence[RawRecord]) -> tuple[list[Positioned], list[Rejection], int]:
        events: list[Positioned] = []
        rejected: list[Rejection] = []
        audit = 0
        for record in records:
            try:
                if self._is_audit(record):
                    audit += 1
                    continue
                self._events.verify(ACTIONS, record.partition, record.key or b"", record.value or b"",
                                    record.headers)
                event = codec.decode(record.value or b"")
                if not isinstance(event, LOG_EVENTS):
                    raise DecodeError(f"{type(event).__name__} does not belong on the actions topic")
                if (record.key or b"") != event.user_id.encode():
                    raise DecodeError(f"key-mismatch: the record key is not the event's user {event.user_id!r}")
            except (SignatureInvalid, DecodeError) as exc:
                code = "signature" if isinstance(exc, SignatureInvalid) else "undecodable"
                reason = str(exc) if str(exc).startswith("key-mismatch") else f"{code}: {exc}"
                log.warning("rejecting record p%d@%d: %s", record.partition, record.offset, reason)
                rejected.append(Rejection("", printable(record.key), reason, record.partition, record.offset,
                                          self._clock.now_us()))
                continue
            events.append(Positioned(event, record.partition, record.offset, record.timestamp_us))
        return events, rejected, audit

    def _is_audit(self, record: RawRecord) -> bool:
        """A flag or held-points record this worker (or another) wrote: signed with the change key, it
        records a decision the worker takes again from the log, so it has no effect when read back."""
        if not self._changes.signed_by_us(record.headers):
            return False
        try:
            self._changes.verify(ACTIONS, ANY_PARTITION, record.key or b"", record.value or b"", record.headers)
            event = codec.decode(record.value or b"")
        except (SignatureInvalid, DecodeError):
            return False
        return isinstance(event, PointsHeld) or (isinstance(event, UserFlagged) and event.flagged_by == WORKER)

    def _audit(self, applied: AppliedBatch, now: int) -> list[ChangeRecord]:
        """The audit records of the batch (and of replayed positions) for the actions topic."""
        outcome = applied.outcome
        records: list[ChangeRecord] = []
        for review in [*applied.replayed_flags, *outcome.new_flags]:
            flagged = _flag_event(review)
            records.append(self._signed(ACTIONS, review.user_id, codec.encode(flagged),
                                        cloud_event_headers(flagged.event_id, "UserFlagged", self._source, now)))
        held = sorted((e for e in [*applied.replayed_entries, *outcome.accepted] if e.state == HELD),
                      key=lambda e: (e.partition, e.offset))
        running = dict(applied.held_totals)
        totals: dict[str, int] = {}
        for entry in reversed(held):  # the held total after each entry, from the total after the batch
            totals[entry.event_id] = running.get(entry.user_id, 0)
            running[entry.user_id] = running.get(entry.user_id, 0) - entry.points
        for entry in held:
            event = _held_event(entry, totals[entry.event_id])
            records.append(self._signed(ACTIONS, entry.user_id, codec.encode(event),
                                        cloud_event_headers(event.event_id, "PointsHeld", self._source, now)))
        return records

    def _signed(self, topic: str, key: str, value: bytes,
                headers: list[tuple[str, bytes]]) -> tuple[str, str, bytes, Sequence[tuple[str, bytes]]]:
        return topic, key, value, self._changes.sign(topic, ANY_PARTITION, key.encode(), value, headers)

    async def _write_boards(self, standings: dict[BoardUser, Standing], now: int) -> list[BoardUpdate]:
        per_board: dict[str, list[tuple[str, Standing]]] = defaultdict(list)
        for (board, user_id), standing in standings.items():
            per_board[board].append((user_id, standing))
        return list(await asyncio.gather(*(self._boards.apply(b, s, now) for b, s in sorted(per_board.items()))))

    async def _publish(self, changes: Sequence[ScoreChanged], updates: Sequence[BoardUpdate],
                       rejected: Sequence[Rejection], now: int, spans: EventSpans,
                       board_traces: dict[str, list[tuple[str, bytes]]], audit: Sequence[ChangeRecord] = ()) -> None:
        # The board changes go first: they are what every gateway waits for, and the producer sends
        # records in the order they are handed to it (all are acknowledged before the offsets commit).
        records: list[ChangeRecord] = []
        for update in updates:
            event = LeaderboardChanged(update.board, update.version, update.entries, now)
            records.append(self._signed(LEADERBOARD_CHANGES, update.board, codec.encode(event), [
                *cloud_event_headers(f"{update.board}@{update.version}", "LeaderboardChanged", self._source, now),
                *board_traces.get(update.board, ())]))
        records += audit
        for change in changes:
            records.append(self._signed(SCORE_CHANGES, change.user_id, codec.encode(change), [
                *cloud_event_headers(change.event_id, "ScoreChanged", self._source, now),
                *spans.of_event(change.event_id)]))
        for r in rejected:
            reject = RejectedAction(r.event_id, r.user_id, r.reason, r.partition, r.offset, r.rejected_at_us)
            records.append(self._signed(REJECTED, r.user_id, codec.encode(reject), [
                *cloud_event_headers(r.event_id or f"{r.partition}@{r.offset}", "RejectedAction", self._source,
                                     now),
                *(spans.of_event(r.event_id) if r.event_id else ())]))
        if records:
            await self._publisher.publish_many(records)

    async def announce_boards(self, boards: Sequence[str]) -> None:
        """Publish the current top N of each board (after a rebuild, so gateways show the new state)."""
        now = self._clock.now_us()
        records: list[tuple[str, str, bytes, Sequence[tuple[str, bytes]]]] = []
        for board in boards:
            version, entries = await self._boards.top(board, self._boards.top_n)
            event = LeaderboardChanged(board, max(version, now), tuple(entries), now)
            records.append(self._signed(LEADERBOARD_CHANGES, board, codec.encode(event),
                                        cloud_event_headers(f"{board}@{event.board_version}", "LeaderboardChanged",
                                                            self._source, now)))
        if records:
            await self._publisher.publish_many(records)

    async def _republish_if_overtaken(self, published: Sequence[BoardUpdate]) -> None:
        """Another worker may have bumped a board and published before us; make the newest state last.
        The versions of all published boards are read in one round trip; a board's top N only when
        another worker did overtake it."""
        if not published:
            return
        current = await self._boards.versions([u.board for u in published])
        for update in published:
            if current.get(update.board, 0) <= update.version:
                continue
            version, entries = await self._boards.top(update.board, self._boards.top_n)
            if version > update.version:
                now = self._clock.now_us()
                event = LeaderboardChanged(update.board, version, tuple(entries), now)
                await self._publisher.publish(*self._signed(
                    LEADERBOARD_CHANGES, update.board, codec.encode(event),
                    cloud_event_headers(f"{update.board}@{version}", "LeaderboardChanged", self._source, now)))

    async def set_aside(self, record: RawRecord, error: BaseException, *, announce: bool = True) -> None:
        """Set aside a record that fails on its own (``stream_app.agent.process_isolating_poison``): it
        is rejected with reason ``poison: <error class>: <message>``, kept in the ``rejections`` table
        (best effort) and, with ``announce``, published to ``scoreboard.rejected.v1`` (raises if Kafka
        does not acknowledge it: the caller retries). The record stays in the log: a rebuild judges it
        again."""
        now = self._clock.now_us()
        detail = " ".join(str(error).split())
        reason = printable(f"poison: {type(error).__name__}: {detail}".encode(), 1000)
        event_id = ""
        try:
            event = codec.decode(record.value or b"")
            event_id = printable(str(getattr(event, "event_id", "")).encode())
        except Exception as exc:  # noqa: BLE001 - undecodable poison is still set aside, without an event id
            log.debug("poison record p%d@%d does not decode: %r", record.partition, record.offset, exc)
        rejection = Rejection(event_id, printable(record.key), reason, record.partition, record.offset, now)
        try:
            await self._ledger.record_poison(rejection)
        except Exception:  # best effort: the rejected topic is the record of it
            log.exception("could not keep poison record p%d@%d in the rejections table",
                          record.partition, record.offset)
        if announce:
            reject = RejectedAction(rejection.event_id, rejection.user_id, reason, record.partition, record.offset,
                                    now)
            await self._publisher.publish(*self._signed(
                REJECTED, rejection.user_id, codec.encode(reject),
                cloud_event_headers(event_id or f"{record.partition}@{record.offset}", "RejectedAction",
                                    self._source, now)))


def _flag_event(review: Review) -> UserFlagged:
    return UserFlagged(review.flag_event_id, review.user_id, review.detector, review.evidence_json,
                       review.hold_from_us, review.shadow, review.flagged_by, review.partition, review.offset,
                       review.flagged_at_us)


def _held_event(entry: LedgerEntry, held_total: int) -> PointsHeld:
    return PointsHeld(f"held/{entry.event_id}", entry.user_id, entry.event_id, entry.action_id, entry.points,
                      held_total, entry.occurred_at_us)
