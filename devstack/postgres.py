"""The Postgres service: reuse ``SCOREBOARD_DATABASE_URL`` if it answers, else run our cluster.

Our cluster gets a ``scoreboard`` role (random password from ``secrets.env``) owning a
``scoreboard`` database; the DSN is ``postgresql://scoreboard:<pw>@127.0.0.1:<port>/scoreboard``.
"""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import quote

import psycopg
from psycopg import sql

from devstack import postgres_cluster as cluster
from devstack.daemons import is_running, tail, wait_until
from devstack.errors import StackError
from devstack.paths import StackPaths
from devstack.ports import LOOPBACK, choose_port, is_free
from devstack.progress import announce
from devstack.service import ServiceReport, redact_url
from devstack.state import StackState

logger = logging.getLogger(__name__)

DATABASE_URL_VARIABLE = "SCOREBOARD_DATABASE_URL"
APP_ROLE = "scoreboard"
APP_DATABASE = "scoreboard"
PREFERRED_PORT = 5432
FALLBACK_PORT = 54320
READY_TIMEOUT_SECONDS = 60.0
_PROCESS_MARKER = "postgres"


def app_dsn(port: int, password: str) -> str:
    return f"postgresql://{APP_ROLE}:{quote(password, safe='')}@{LOOPBACK}:{port}/{APP_DATABASE}"


def postgres_answers(dsn: str, timeout: int = 3) -> bool:
    """True when ``dsn`` accepts a connection and runs ``SELECT 1``."""
    try:
        with psycopg.connect(dsn, connect_timeout=timeout) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def ensure_postgres(paths: StackPaths, state: StackState, password: str) -> ServiceReport:
    """Make a database answer and return where: the configured one, or our own cluster."""
    configured = os.environ.get(DATABASE_URL_VARIABLE)
    layout = cluster.place_cluster(paths, state)
    own_port = state.get_int("postgres.port")
    own_dsn = app_dsn(own_port, password) if own_port else None
    if configured and configured != own_dsn:
        if postgres_answers(configured):
            announce(f"postgres: reusing {DATABASE_URL_VARIABLE} (it answers)")
            return ServiceReport("postgres", configured, True, False)
        announce(f"postgres: {DATABASE_URL_VARIABLE} does not answer; starting a local cluster")
    initdb, pg_ctl = cluster.server_binaries()
    pid = _running_postmaster(layout)
    if pid is None:
        port = (
            own_port
            if own_port and is_free(own_port)
            else choose_port("postgres", (PREFERRED_PORT,), FALLBACK_PORT)
        )
        state.put("postgres.port", port)
        cluster.prepare_directories(layout)
        if cluster.initialise(layout, initdb):
            announce(f"postgres: initialised a cluster in {layout.data_dir}")
        announce(f"postgres: starting on {LOOPBACK}:{port} (log {layout.log_file})")
        cluster.start(layout, pg_ctl, port)
        pid = _running_postmaster(layout)
    else:
        port = layout.postmaster_port() or own_port or PREFERRED_PORT
        state.put("postgres.port", port)
    _provision_role(layout, port, password)
    dsn = app_dsn(port, password)
    if not wait_until(lambda: postgres_answers(dsn), READY_TIMEOUT_SECONDS, interval=0.3):
        raise StackError(
            f"postgres: {redact_url(dsn)} does not accept connections within {READY_TIMEOUT_SECONDS:.0f} s; "
            f"see {layout.log_file}. Last lines:\n{tail(layout.log_file)}"
        )
    return ServiceReport("postgres", dsn, True, True, pid, port, layout.log_file)


def _running_postmaster(layout: cluster.ClusterLayout) -> int | None:
    pid = layout.postmaster_pid()
    return pid if pid is not None and is_running(pid, _PROCESS_MARKER) else None


def _provision_role(layout: cluster.ClusterLayout, port: int, password: str) -> None:
    """Create (or re-key) the app role and its database over the trusted local socket."""
    started = time.monotonic()
    try:
        with psycopg.connect(
            host=str(layout.socket_dir),
            port=port,
            user=cluster.SERVER_USER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as admin:
            exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            admin.execute(
                sql.SQL("{} {} WITH LOGIN CREATEDB PASSWORD {}").format(
                    verb, sql.Identifier(APP_ROLE), sql.Literal(password)
                )
            )
            if (
                admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)).fetchone()
                is None
            ):
                admin.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)
                    )
                )
    except psycopg.Error as error:
        raise StackError(
            f"postgres: could not create role/database {APP_ROLE!r}: {error}; see {layout.log_file}"
        ) from error
    logger.info("role and database ready in %.2f s", time.monotonic() - started)


def stop_postgres(paths: StackPaths, state: StackState) -> bool:
    """``pg_ctl stop -m fast`` on our cluster (data kept). False when it was not running."""
    layout = cluster.cluster_layout(paths, state)
    pid = _running_postmaster(layout)
    if pid is None:
        return False
    _, pg_ctl = cluster.server_binaries()
    announce(f"postgres: stopping pid {pid}")
    cluster.stop(layout, pg_ctl)
    return True


def postgres_status(paths: StackPaths, state: StackState, dsn: str | None) -> ServiceReport:
    """Our cluster when its postmaster runs, else whatever answers at ``dsn``/the configured URL."""
    layout = cluster.cluster_layout(paths, state)
    pid = _running_postmaster(layout)
    port = state.get_int("postgres.port")
    if pid is not None and dsn:
        return ServiceReport("postgres", dsn, postgres_answers(dsn), True, pid, port, layout.log_file)
    target = os.environ.get(DATABASE_URL_VARIABLE) or dsn
    if not target:
        return ServiceReport("postgres", "-", False, False, None, port, layout.log_file)
    return ServiceReport(
        "postgres", target, postgres_answers(target), pid is not None, pid, port, layout.log_file
    )
