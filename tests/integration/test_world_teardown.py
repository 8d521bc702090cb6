"""A test world's teardown drops its database even while an autovacuum worker is inside it: an
autovacuum session belongs to no role, so the app role's ``DROP DATABASE ... WITH (FORCE)`` is refused
(it failed so after a heavy e2e test), and the teardown falls back to a plain drop."""

from __future__ import annotations

import psycopg

from devstack.worlds import isolated_world
from scoreboard.settings import merged_environment
from testkit.waits import wait_until

# autovacuum takes the table at its next visit of the database (autovacuum_naptime, 60 s by default)
# and, throttled to a crawl, is still inside it when the world ends
SLOW_AUTOVACUUM = ("autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0, "
                   "autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0, "
                   "autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1")


def vacuum_holds(conn: psycopg.Connection[tuple[object, ...]], table: str) -> int:
    """Sessions of no role holding vacuum's lock on ``table``: autovacuum at work on it (the app role
    cannot see another session's backend_type, but sees every lock)."""
    row = conn.execute("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                       " WHERE l.relation = %s::regclass AND l.mode = 'ShareUpdateExclusiveLock'"
                       " AND l.granted AND a.usesysid IS NULL", (table,)).fetchone()
    return int(str(row[0])) if row else 0


def test_teardown_drops_the_database_while_autovacuum_works_in_it() -> None:
    admin_url = merged_environment()["SCOREBOARD_DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        with isolated_world() as world:
            with psycopg.connect(world.database_url, autocommit=True) as conn:
                conn.execute(f"CREATE TABLE churn (id int, pad text) WITH ({SLOW_AUTOVACUUM})")
                conn.execute("INSERT INTO churn SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g")
                conn.execute("DELETE FROM churn")
                wait_until(lambda: vacuum_holds(conn, "churn"), timeout_s=180,
                           what="autovacuum at work on the world's table")
        dropped = admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (world.name,)).fetchone()
        assert dropped == (0,)
