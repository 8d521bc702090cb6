"""The Postgres ledger: one transaction per batch holds the dedup decision, the new standings, bans,
rejections, reviews, held and voided entries and the log positions applied (tracking records)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool

from projections.detector_pool import DetectorPool
from projections.review_store import (
    load_purge_matches,
    load_replayed_moderation,
    load_reviewed_entries,
    reviews_of_rows,
    reviews_query,
    write_moderation,
)
from scoreboard.domain.boards import boards_for
from scoreboard.domain.detection import DetectionConfig
from scoreboard.domain.events import ActionCompleted, ActionsPurged, ScoreAdjusted, ScoreChanged
from scoreboard.domain.moderation import conceal, reviewed_since
from scoreboard.domain.policy import Judge, Usage, UsageKey
from scoreboard.domain.records import ENTRY_FIELDS, Review
from scoreboard.domain.scoring import (
    BatchOutcome,
    BoardUser,
    Known,
    LedgerEntry,
    Positioned,
    Rejection,
    Standing,
    UserStatus,
    apply_log,
    keys_needed,
    ledger_nonce,
    usage_needed,
)

ENTRY_COLUMNS = ", ".join("kafka_partition" if f == "partition" else "kafka_offset" if f == "offset" else f
                          for f in ENTRY_FIELDS)
_STANDING_COLUMNS = "board, user_id, score, seq, reached_at_us, visible"
_UPSERT = (" ON CONFLICT (board, user_id) DO UPDATE SET score = EXCLUDED.score, seq = EXCLUDED.seq,"
           " reached_at_us = EXCLUDED.reached_at_us, visible = EXCLUDED.visible")
_USAGE_COLUMNS = "user_id, counter, time_window, amount"
_USAGE_UPSERT = (" ON CONFLICT (user_id, counter) DO UPDATE SET time_window = EXCLUDED.time_window,"
                 " amount = EXCLUDED.amount")
_COPY_FROM_ROWS = 64  # below this, one pipelined executemany is cheaper than a temp table and COPY


@dataclass
class AppliedBatch:
    """The outcome, plus the effects of replayed events to send downstream again."""

    outcome: BatchOutcome
    replayed_entries: list[LedgerEntry] = field(default_factory=list)
    replayed_rejections: list[Rejection] = field(default_factory=list)
    replayed_standings: dict[BoardUser, Standing] = field(default_factory=dict)
    replayed_flags: list[Review] = field(default_factory=list)
    """Reviews a detector raised at replayed positions (their audit records are sent again)."""
    replayed_moderation: list[ScoreChanged] = field(default_factory=list)
    """Score changes of decisions and purges at replayed positions."""
    held_totals: dict[str, int] = field(default_factory=dict)
    """For each user with held entries in the batch: the points held after it."""

    def standings_to_write(self) -> dict[BoardUser, Standing]:
        return self.replayed_standings | self.outcome.changed


class Ledger:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection], judge: Judge | None = None,
                 detection: DetectionConfig | None = None) -> None:
        """Without a ``judge`` the catalog's policy is not checked (tests of the ledger mechanics);
        without ``detection`` nobody is flagged by a detector."""
        self._pool = pool
        self._judge = judge
        self._detectors = DetectorPool(detection) if detection is not None else None

    async def apply_batch(self, batch: Sequence[Positioned], now_us: int) -> AppliedBatch:
        """Apply the batch atomically; replays and duplicates change nothing."""
        partitions = sorted({p.partition for p in batch})
        try:
            async with self._pool.connection() as conn, conn.transaction():
                known = await self._load(conn, batch)
                detectors = await self._detectors.ready(conn, known.next_offsets) if self._detectors else None
                outcome = apply_log(batch, known, now_us, self._judge, detectors)
                if outcome.conceal:
                    conceal(outcome, await self._standings(conn, (), outcome.conceal, lock=True))
                await self._write(conn, outcome)
                applied = AppliedBatch(outcome)
                if outcome.replayed:
                    await self._load_replayed(conn, outcome.replayed, applied)
                applied.held_totals = await self._held_totals(conn, outcome, applied)
        except BaseException:
            if self._detectors:
                self._detectors.forget(partitions)  # they saw a batch that did not commit
            raise
        if self._detectors:
            self._detectors.advanced({**known.next_offsets, **outcome.next_offsets})
        return applied

    async def _load(self, conn: AsyncConnection, batch: Sequence[Positioned]) -> Known:
        """Everything the batch is judged against, its rows locked. Without a purge in the batch, no read
        depends on another's answer: they go to Postgres in one pipeline, one round trip, executed in
        the same order (so the same lock order) as one after another."""
        partitions = sorted({p.partition for p in batch})
        scored = [p.event for p in batch if isinstance(p.event, (ActionCompleted, ScoreAdjusted))]
        keys, whole_users = keys_needed(batch, self._judge)
        users = sorted({p.event.user_id for p in batch})
        counters = sorted(usage_needed(batch, self._judge)) if self._judge is not None else []
        has_purges = any(isinstance(p.event, ActionsPurged) for p in batch)
        async with conn.pipeline():
            await conn.execute(
                "INSERT INTO log_positions (kafka_partition, next_offset) SELECT p, 0 FROM unnest(%s::int[]) p"
                " ON CONFLICT DO NOTHING", (partitions,))
            positions = await conn.execute(
                "SELECT kafka_partition, next_offset FROM log_positions WHERE kafka_partition = ANY(%s)"
                " ORDER BY kafka_partition FOR UPDATE", (partitions,))
            ledger = await conn.execute(
                f"SELECT {ENTRY_COLUMNS} FROM ledger"
                " WHERE (user_id, nonce) IN (SELECT * FROM unnest(%b::text[], %b::text[]))",
                ([e.user_id for e in scored], [ledger_nonce(e) for e in scored]))
            if not has_purges:
                rest = await self._issue_rest(conn, keys, whole_users, users, counters)
        next_offsets = {row[0]: row[1] for row in await positions.fetchall()}
        entries = {(row[1], row[2]): LedgerEntry(*row) for row in await ledger.fetchall()}
        purge_matches: dict[tuple[int, str], list[LedgerEntry]] = {}
        if has_purges:
            purges = [p for p in batch
                      if isinstance(p.event, ActionsPurged) and p.offset >= next_offsets.get(p.partition, 0)]
            purge_matches = await load_purge_matches(conn, purges, ENTRY_COLUMNS) if purges else {}
            for matched in purge_matches.values():
                keys.update((board, e.user_id) for e in matched for board in boards_for(e.occurred_at_us))
            async with conn.pipeline():
                rest = await self._issue_rest(conn, keys, whole_users, users, counters)
        standings_cur, statuses_cur, usage_cur, reviews_cur, profiles_cur = rest
        standings = ({(row[0], row[1]): Standing(*row[2:]) for row in await standings_cur.fetchall()}
                     if standings_cur is not None else {})
        statuses = {row[0]: UserStatus(*row[1:]) for row in await statuses_cur.fetchall()}
        boards_of_user: dict[str, set[str]] = {}
        for board, user in standings:
            if user in whole_users:
                boards_of_user.setdefault(user, set()).add(board)
        usage: dict[UsageKey, Usage] = {}
        if usage_cur is not None:
            usage = {(row[0], row[1]): Usage(row[2], row[3]) for row in await usage_cur.fetchall()}
        reviews = reviews_of_rows(await reviews_cur.fetchall()) if reviews_cur is not None else {}
        since = reviewed_since(batch, reviews)
        reviewed = await load_reviewed_entries(conn, sorted(since), since, ENTRY_COLUMNS) if since else {}
        first_seen: dict[str, int] = {}
        if profiles_cur is not None:
            first_seen = {row[0]: row[1] for row in await profiles_cur.fetchall()}
        return Known(next_offsets, entries, standings, statuses,
                     {u: frozenset(b) for u, b in boards_of_user.items()}, usage, reviews, first_seen, reviewed,
                     purge_matches)

    async def _issue_rest(self, conn: AsyncConnection, keys: Iterable[BoardUser], whole_users: Iterable[str],
                          users: list[str], counters: list[UsageKey]) -> tuple[
            AsyncCursor[Any] | None, AsyncCursor[Any], AsyncCursor[Any] | None, AsyncCursor[Any] | None,
            AsyncCursor[Any] | None]:
        """Send the reads of ``_load`` after the purges (standings, statuses, usage, reviews, profiles),
        in that order, without waiting for their answers (the caller is in pipeline mode)."""
        standings = await self._issue_standings(conn, keys, whole_users, lock=True)
        statuses = await conn.execute(
            "SELECT user_id, banned, event_id, changed_at_us, reason FROM user_status WHERE user_id = ANY(%b::text[])",
            (users,))
        usage = None
        if counters:
            usage = await conn.execute(
                "SELECT user_id, counter, time_window, amount FROM usage_counters"
                " WHERE (user_id, counter) IN (SELECT * FROM unnest(%b::text[], %b::text[]))"
                " ORDER BY user_id, counter FOR UPDATE",
                ([u for u, _ in counters], [c for _, c in counters]))
        reviews = await conn.execute(*reviews_query(users)) if users else None
        profiles = None
        if self._detectors is not None:
            profiles = await conn.execute(
                "SELECT user_id, first_seen_us FROM user_profiles WHERE user_id = ANY(%b::text[])", (users,))
        return standings, statuses, usage, reviews, profiles

    async def _write(self, conn: AsyncConnection, outcome: BatchOutcome) -> None:
        async with conn.cursor() as cur:
            if outcome.accepted:
                # COPY: a UNIQUE violation (a concurrent zombie writer) still aborts the whole batch.
                async with cur.copy(f"COPY ledger ({ENTRY_COLUMNS}) FROM STDIN") as copy:
                    for entry in outcome.accepted:
                        await copy.write_row(_entry_row(entry))
            if max(len(outcome.changed), len(outcome.usage)) < _COPY_FROM_ROWS:
                # no COPY among the rest (not allowed in a pipeline): all of it in one round trip, in
                # the same order; an error still surfaces here and aborts the transaction
                async with conn.pipeline():
                    await self._write_rest(cur, outcome)
            else:
                await self._write_rest(cur, outcome)

    async def _write_rest(self, cur: AsyncCursor[Any], outcome: BatchOutcome) -> None:
        """Every write of the batch after its ledger rows: standings, bans, rejections, usage counters,
        moderation, profiles, and last the log positions applied."""
        if outcome.changed:
            await self._upsert_standings(cur, outcome)
        if outcome.statuses:
            await cur.executemany(
                "INSERT INTO user_status (user_id, banned, event_id, changed_at_us, reason)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET banned = EXCLUDED.banned,"
                " event_id = EXCLUDED.event_id, changed_at_us = EXCLUDED.changed_at_us, reason = EXCLUDED.reason",
                [(u, s.banned, s.event_id, s.changed_at_us, s.reason) for u, s in outcome.statuses.items()])
        if outcome.status_changes:
            await cur.executemany(
                "INSERT INTO ban_history (event_id, user_id, banned, changed_at_us, reason, kafka_partition,"
                " kafka_offset) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                [(c.event_id, c.user_id, c.banned, c.changed_at_us, c.reason, c.partition, c.offset)
                 for c in outcome.status_changes])
        if outcome.rejected:
            await cur.executemany(
                "INSERT INTO rejections (kafka_partition, kafka_offset, event_id, user_id, reason, rejected_at_us)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [(r.partition, r.offset, r.event_id, r.user_id, r.reason, r.rejected_at_us)
                 for r in outcome.rejected])
        if outcome.usage:
            await _upsert(cur, "usage_counters", _USAGE_COLUMNS, _USAGE_UPSERT,
                          [(u, c, v.window, v.amount) for (u, c), v in sorted(outcome.usage.items())])
        await write_moderation(cur, outcome)
        if outcome.first_seen:
            await cur.executemany(
                "INSERT INTO user_profiles (user_id, first_seen_us) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                sorted(outcome.first_seen.items()))
        if outcome.next_offsets:
            await cur.executemany(
                "UPDATE log_positions SET next_offset = %s WHERE kafka_partition = %s",
                [(offset, partition) for partition, offset in outcome.next_offsets.items()])

    async def _upsert_standings(self, cur: AsyncCursor[Any], outcome: BatchOutcome) -> None:
        rows = [(b, u, s.score, s.seq, s.reached_at_us, s.visible) for (b, u), s in outcome.changed.items()]
        await _upsert(cur, "board_scores", _STANDING_COLUMNS, _UPSERT, rows)

    async def _load_replayed(self, conn: AsyncConnection, replayed: Sequence[Positioned],
                             applied: AppliedBatch) -> None:
        partitions = [p.partition for p in replayed]
        offsets = [p.offset for p in replayed]
        cur = await conn.execute(
            f"SELECT {ENTRY_COLUMNS} FROM ledger WHERE (kafka_partition, kafka_offset) IN"
            " (SELECT * FROM unnest(%s::int[], %s::bigint[]))", (partitions, offsets))
        applied.replayed_entries = [LedgerEntry(*row) for row in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT event_id, user_id, reason, kafka_partition, kafka_offset, rejected_at_us FROM rejections"
            " WHERE (kafka_partition, kafka_offset) IN (SELECT * FROM unnest(%s::int[], %s::bigint[]))",
            (partitions, offsets))
        applied.replayed_rejections = [Rejection(*row) for row in await cur.fetchall()]
        keys, whole_users = keys_needed(replayed)
        applied.replayed_standings = await self._standings(conn, keys, whole_users, lock=False)
        applied.replayed_flags, applied.replayed_moderation = await load_replayed_moderation(conn, partitions, offsets)

    async def _held_totals(self, conn: AsyncConnection, outcome: BatchOutcome, applied: AppliedBatch) -> dict[str, int]:
        users = sorted({e.user_id for e in [*outcome.held, *applied.replayed_entries] if e.state == "held"})
        if not users:
            return {}
        cur = await conn.execute("SELECT user_id, sum(points)::bigint FROM ledger WHERE state = 'held'"
                                 " AND user_id = ANY(%b::text[]) GROUP BY user_id", (users,))
        return {row[0]: row[1] for row in await cur.fetchall()}

    async def _standings(self, conn: AsyncConnection, keys: Iterable[BoardUser], whole_users: Iterable[str],
                         *, lock: bool) -> dict[BoardUser, Standing]:
        cur = await self._issue_standings(conn, keys, whole_users, lock=lock)
        if cur is None:
            return {}
        return {(row[0], row[1]): Standing(*row[2:]) for row in await cur.fetchall()}

    async def _issue_standings(self, conn: AsyncConnection, keys: Iterable[BoardUser], whole_users: Iterable[str],
                               *, lock: bool) -> AsyncCursor[Any] | None:
        """The query of the standings of ``keys`` and of every board of ``whole_users`` (None: nothing to read)."""
        ordered = sorted(keys)
        users = sorted(whole_users)
        if not ordered and not users:
            return None
        return await conn.execute(
            f"SELECT {_STANDING_COLUMNS} FROM board_scores"
            " WHERE (board, user_id) IN (SELECT * FROM unnest(%b::text[], %b::text[])) OR user_id = ANY(%b::text[])"
            " ORDER BY board, user_id" + (" FOR UPDATE" if lock else ""),
            ([b for b, _ in ordered], [u for _, u in ordered], users))

    async def record_poison(self, rejection: Rejection) -> None:
        """Keep a record set aside as poison in ``rejections`` (its own transaction; a second time is a
        no-op). A crash replay of its offset then re-announces the rejection like any other."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO rejections (kafka_partition, kafka_offset, event_id, user_id, reason, rejected_at_us)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (rejection.partition, rejection.offset, rejection.event_id, rejection.user_id, rejection.reason,
                 rejection.rejected_at_us))


async def _upsert(cur: AsyncCursor[Any], table: str, columns: str, on_conflict: str,
                  rows: Sequence[tuple[object, ...]]) -> None:
    """Insert or update ``rows``: a pipelined executemany for a few, COPY into a temporary table and
    one INSERT ... SELECT for many (a rebuild's batches write tens of thousands)."""
    if len(rows) < _COPY_FROM_ROWS:
        marks = ", ".join(["%s"] * len(rows[0]))
        await cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})" + on_conflict, rows)
        return
    await cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table}_in (LIKE {table}) ON COMMIT DELETE ROWS")
    async with cur.copy(f"COPY {table}_in ({columns}) FROM STDIN") as copy:
        for row in rows:
            await copy.write_row(row)
    await cur.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_in" + on_conflict)


def _entry_row(e: LedgerEntry) -> tuple[object, ...]:
    return tuple(getattr(e, f) for f in ENTRY_FIELDS)
