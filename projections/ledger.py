"""The Postgres ledger: one transaction per batch holds the dedup decision and the new standings."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from scoreboard.boards import boards_for
from scoreboard.scoring import BatchOutcome, BoardUser, LedgerEntry, Positioned, Standing, apply_actions

_ENTRY_COLUMNS = (
    "event_id, user_id, nonce, action_id, points, catalog_version, occurred_at_us,"
    " kafka_partition, kafka_offset, total_after"
)


class Ledger:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection]) -> None:
        self._pool = pool

    async def apply_batch(self, batch: Sequence[Positioned]) -> BatchOutcome:
        """Record the batch's new actions and standings atomically; replays and duplicates change nothing."""
        async with self._pool.connection() as conn, conn.transaction():
            known = await self._known_entries(conn, batch)
            keys = {(board, p.event.user_id) for p in batch for board in boards_for(p.event.occurred_at_us)}
            standings = await self._standings(conn, keys, lock=True)
            outcome = apply_actions(batch, known, standings)
            if outcome.accepted:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        f"INSERT INTO ledger ({_ENTRY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        [_entry_row(e) for e in outcome.accepted],
                    )
            if outcome.changed:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO board_scores (board, user_id, score, seq, reached_at_us)"
                        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (board, user_id) DO UPDATE SET"
                        " score = EXCLUDED.score, seq = EXCLUDED.seq, reached_at_us = EXCLUDED.reached_at_us",
                        [(b, u, s.score, s.seq, s.reached_at_us) for (b, u), s in outcome.changed.items()],
                    )
            # Replays re-send their current standings downstream; Redis refuses them if already newer.
            missing = outcome.touched - outcome.changed.keys()
            if missing:
                current = await self._standings(conn, missing, lock=False)
                outcome.changed.update(current)
        return outcome

    async def standings(self, keys: set[BoardUser]) -> dict[BoardUser, Standing]:
        async with self._pool.connection() as conn:
            return await self._standings(conn, keys, lock=False)

    async def _known_entries(
        self, conn: AsyncConnection, batch: Sequence[Positioned]
    ) -> dict[tuple[str, str], LedgerEntry]:
        users = [p.event.user_id for p in batch]
        nonces = [p.event.nonce for p in batch]
        cur = await conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger"
            " WHERE (user_id, nonce) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            (users, nonces),
        )
        return {(row[1], row[2]): LedgerEntry(*row) for row in await cur.fetchall()}

    async def _standings(
        self, conn: AsyncConnection, keys: set[BoardUser], *, lock: bool
    ) -> dict[BoardUser, Standing]:
        if not keys:
            return {}
        ordered = sorted(keys)
        cur = await conn.execute(
            "SELECT board, user_id, score, seq, reached_at_us FROM board_scores"
            " WHERE (board, user_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
            " ORDER BY board, user_id" + (" FOR UPDATE" if lock else ""),
            ([b for b, _ in ordered], [u for _, u in ordered]),
        )
        return {(row[0], row[1]): Standing(row[2], row[3], row[4]) for row in await cur.fetchall()}


def _entry_row(e: LedgerEntry) -> tuple[object, ...]:
    return (
        e.event_id, e.user_id, e.nonce, e.action_id, e.points, e.catalog_version,
        e.occurred_at_us, e.partition, e.offset, e.total_after,
    )
