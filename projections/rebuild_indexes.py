"""Indexes a rebuild builds once at the end instead of maintaining row by row.

A rebuild empties the projections and appends every accepted action to ``ledger`` and every standing
to ``board_scores``. Most of the ledger's indexes serve readers that a replay is not (history, purges by
time, detectors warmed after a restart, the api's rank reads), yet each COPY'd row pays for all of
them. So the rebuild drops the indexes named in ``DEFERRED`` after emptying the tables and creates them
again at the end: one sorted build per index is cheaper than a million inserts into it
(docs/benchmarks.md). Kept throughout: the primary and unique keys (what the replay reads and what
refuses a duplicate) and the indexes the replay's own queries use (``board_scores_user``,
``ledger_held``).

The definitions are read from the migrations, not from the live catalog, so they are never lost:
``restore`` runs when a replay ends and again when the rebuild leaves for any reason (an error
included); a rebuild killed outright leaves half-built projections, which only the next rebuild
fixes, and that rebuild restores them too.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import psycopg

from projections.migrations import MIGRATIONS_DIR

DEFERRED = ("ledger_user_time", "ledger_position", "ledger_time", "ledger_partition_time", "board_scores_rank")
_CREATE = re.compile(r"CREATE INDEX IF NOT EXISTS (\w+) ON [^;]+;")


@cache
def definitions() -> dict[str, str]:
    """``CREATE INDEX IF NOT EXISTS`` of each deferred index, as its migration wrote it."""
    found = {match.group(1): match.group(0)
             for path in sorted(MIGRATIONS_DIR.glob("*.sql")) for match in _CREATE.finditer(path.read_text())}
    missing = [name for name in DEFERRED if name not in found]
    if missing:
        raise LookupError(f"no migration creates the deferred index(es) {', '.join(missing)}")
    return {name: found[name] for name in DEFERRED}


def defer(conn: psycopg.Connection[Any]) -> None:
    """Drop the deferred indexes (the tables were just emptied)."""
    for name in DEFERRED:
        conn.execute(f"DROP INDEX IF EXISTS {name}")


def restore(conn: psycopg.Connection[Any]) -> None:
    """Create whichever deferred index is missing (each one sorted build over the table)."""
    for statement in definitions().values():
        conn.execute(statement.encode())
