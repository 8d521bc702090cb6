"""The small Postgres pool for reads that aggregate the ledger: ``?as_of=`` boards and history.

A point-in-time board sums the whole window of the ledger, which on a large board takes long. These
reads get their own few connections, each statement bounded by ``statement_timeout``, so they can
neither hold Postgres for long nor take the connections the live reads and health checks use. A
cut statement raises ``psycopg.errors.QueryCanceled``; a request that finds every connection busy
for ``wait_seconds`` raises ``psycopg_pool.PoolTimeout`` (the api answers both with a 503).
"""

from __future__ import annotations

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from scoreboard.domain.errors import ConfigurationError

LEDGER_POOL_SIZE = 2


def ledger_read_pool(url: str, statement_timeout_ms: int, size: int = LEDGER_POOL_SIZE,
                     wait_seconds: float | None = None) -> AsyncConnectionPool[AsyncConnection]:
    """A closed pool (open it in the lifespan) whose connections cut any statement after
    ``statement_timeout_ms`` (0: no limit); a caller waits at most ``wait_seconds`` for a connection
    (default: the statement timeout, at least 1 s)."""
    if statement_timeout_ms < 0:
        raise ConfigurationError(f"SCOREBOARD_HISTORY_STATEMENT_TIMEOUT_MS must be >= 0, got {statement_timeout_ms}")

    async def bound_statements(conn: AsyncConnection) -> None:
        await conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(int(statement_timeout_ms))))
        await conn.commit()  # the pool hands out idle connections only

    wait = wait_seconds if wait_seconds is not None else max(1.0, statement_timeout_ms / 1000)
    return AsyncConnectionPool(url, min_size=1, max_size=size, open=False, timeout=wait,
                               configure=bound_statements, name="ledger-reads")
