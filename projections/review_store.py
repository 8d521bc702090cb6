"""The ledger's moderation tables: reviews, the entries a decision or a purge touches, entry states,
and the score changes of decisions and purges (kept by log position, so a replay sends them again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection, AsyncCursor

from scoreboard.domain.events import ActionsPurged, ScoreChanged
from scoreboard.domain.moderation import WORKER
from scoreboard.domain.records import BatchOutcome, LedgerEntry, Positioned, Review

REVIEW_COLUMNS = ("flag_event_id, user_id, detector, state, shadow, flagged_at_us, hold_from_us, evidence, flagged_by,"
                  " kafka_partition, kafka_offset, decided_by, decided_reason, decided_at_us, decision_event_id")
_REVIEW_UPSERT = (" ON CONFLICT (flag_event_id) DO UPDATE SET state = EXCLUDED.state, decided_by = EXCLUDED.decided_by,"
                  " decided_reason = EXCLUDED.decided_reason, decided_at_us = EXCLUDED.decided_at_us,"
                  " decision_event_id = EXCLUDED.decision_event_id")


def review_row(review: Review) -> tuple[object, ...]:
    return (review.flag_event_id, review.user_id, review.detector, review.state, review.shadow,
            review.flagged_at_us, review.hold_from_us, review.evidence_json, review.flagged_by, review.partition,
            review.offset, review.decided_by, review.decided_reason, review.decided_at_us, review.decision_event_id)


def review_of(row: Sequence[Any]) -> Review:
    (flag_event_id, user_id, detector, state, shadow, flagged_at_us, hold_from_us, evidence, flagged_by, partition,
     offset, decided_by, decided_reason, decided_at_us, decision_event_id) = row
    return Review(flag_event_id, user_id, detector, state, shadow, flagged_at_us, hold_from_us, evidence, flagged_by,
                  partition, offset, decided_by, decided_reason, decided_at_us, decision_event_id)


async def load_reviews(conn: AsyncConnection, users: Sequence[str]) -> dict[str, Review]:
    """The latest review of each of ``users`` (locked: a decision and a flag of one user serialise)."""
    if not users:
        return {}
    cur = await conn.execute(*reviews_query(users))
    return reviews_of_rows(await cur.fetchall())


def reviews_query(users: Sequence[str]) -> tuple[str, tuple[list[str]]]:
    """The query of ``load_reviews`` (for a caller that pipelines it with others)."""
    return (f"SELECT DISTINCT ON (user_id) {REVIEW_COLUMNS} FROM reviews WHERE user_id = ANY(%b::text[])"
            " ORDER BY user_id, kafka_offset DESC", (list(users),))


def reviews_of_rows(rows: Sequence[Sequence[Any]]) -> dict[str, Review]:
    """``load_reviews``' answer from the rows of ``reviews_query``."""
    return {row[1]: review_of(row) for row in rows}


async def load_reviewed_entries(conn: AsyncConnection, users: Sequence[str], since_us: Mapping[str, int],
                                entry_columns: str) -> dict[str, list[LedgerEntry]]:
    """For each user a decision of the batch is about: the held entries and the counted ones since
    ``since_us[user]`` (no later than the start of any review the decision may be about: the core keeps
    those since the review's ``hold_from_us``)."""
    cur = await conn.execute(
        f"SELECT {entry_columns} FROM ledger l JOIN unnest(%b::text[], %b::bigint[]) AS r(uid, since)"
        " ON l.user_id = r.uid WHERE l.state = 'held' OR (l.state = 'counted' AND l.occurred_at_us >= r.since)"
        " ORDER BY l.kafka_partition, l.kafka_offset FOR UPDATE OF l",
        (list(users), [since_us[u] for u in users]))
    found: dict[str, list[LedgerEntry]] = {}
    for row in await cur.fetchall():
        entry = LedgerEntry(*row)
        found.setdefault(entry.user_id, []).append(entry)
    return found


async def load_purge_matches(conn: AsyncConnection, purges: Sequence[Positioned],
                             entry_columns: str) -> dict[tuple[int, str], list[LedgerEntry]]:
    """For each purge of the batch, by (partition, event id): the counted and held entries of its
    partition it matches."""
    found: dict[tuple[int, str], list[LedgerEntry]] = {}
    for item in purges:
        event = item.event
        assert isinstance(event, ActionsPurged)
        cur = await conn.execute(
            f"SELECT {entry_columns} FROM ledger WHERE kafka_partition = %s AND action_id = %s"
            " AND occurred_at_us >= %s AND occurred_at_us < %s AND state <> 'voided'"
            " AND (cardinality(%b::text[]) = 0 OR user_id = ANY(%b::text[]))"
            " ORDER BY kafka_offset FOR UPDATE",
            (item.partition, event.action_id, event.from_us, event.until_us, list(event.user_ids),
             list(event.user_ids)))
        found[(item.partition, event.event_id)] = [LedgerEntry(*row) for row in await cur.fetchall()]
    return found


async def write_moderation(cur: AsyncCursor[Any], outcome: BatchOutcome) -> None:
    """The reviews, entry states and moderation score changes the batch decided."""
    if outcome.reviews:
        marks = ", ".join(["%s"] * 15)
        await cur.executemany(f"INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES ({marks})" + _REVIEW_UPSERT,
                              [review_row(r) for _, r in sorted(outcome.reviews.items())])
    if outcome.entry_states:
        await cur.executemany("UPDATE ledger SET state = %s WHERE user_id = %s AND nonce = %s",
                              [(state, user, nonce) for (user, nonce), state in sorted(outcome.entry_states.items())])
    if outcome.moderated:
        await cur.executemany(
            "INSERT INTO moderation_changes (kafka_partition, kafka_offset, seq, event_id, user_id, action_id, points,"
            " total, occurred_at_us) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(p, o, seq, c.event_id, c.user_id, c.action_id, c.points, c.total, c.occurred_at_us)
             for seq, (p, o, c) in enumerate(outcome.moderated)])


async def load_replayed_moderation(conn: AsyncConnection, partitions: Sequence[int],
                                   offsets: Sequence[int]) -> tuple[list[Review], list[ScoreChanged]]:
    """What the events at replayed positions raised (detector flags) and changed (decisions, purges)."""
    cur = await conn.execute(
        f"SELECT {REVIEW_COLUMNS} FROM reviews WHERE flagged_by = %s AND (kafka_partition, kafka_offset) IN"
        " (SELECT * FROM unnest(%s::int[], %s::bigint[])) ORDER BY kafka_partition, kafka_offset",
        (WORKER, list(partitions), list(offsets)))
    flags = [review_of(row) for row in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT event_id, user_id, action_id, points, total, occurred_at_us FROM moderation_changes"
        " WHERE (kafka_partition, kafka_offset) IN (SELECT * FROM unnest(%s::int[], %s::bigint[]))"
        " ORDER BY kafka_partition, kafka_offset, seq", (list(partitions), list(offsets)))
    changes = [ScoreChanged(*row) for row in await cur.fetchall()]
    return flags, changes
