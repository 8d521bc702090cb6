"""Versioned SQL migrations, applied in order, each once, under an advisory lock."""

from __future__ import annotations

from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 7_204_551_001


def pending(applied: set[int]) -> list[tuple[int, Path]]:
    found = sorted((int(path.name.split("_", 1)[0]), path) for path in MIGRATIONS_DIR.glob("*.sql"))
    return [(number, path) for number, path in found if number not in applied]


def apply_migrations(database_url: str) -> list[int]:
    """Apply what is missing; returns the versions applied now."""
    done: list[int] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for number, path in pending(applied):
                with conn.transaction():
                    conn.execute(path.read_text().encode())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
                done.append(number)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return done
