"""The local stack (``scoreboard stack up``) brings up Kafka, Postgres and Redis that really answer.

These tests share the developer's stack (``$SCOREBOARD_STACK_DIR`` or ``<repo>/.stack``): they call
``up`` (a no-op verification when it already runs) and never ``down``.
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from confluent_kafka.admin import AdminClient

from devstack import StackInfo, read_stack_env, status, up
from devstack.envfile import read_env_file, write_env_file
from devstack.kafka_dist import render_pom
from devstack.service import redact_url
from scoreboard.adapters.kafka_retry import retry_kafka

CONTRACT_VARIABLES = (
    "SCOREBOARD_KAFKA_BOOTSTRAP",
    "SCOREBOARD_DATABASE_URL",
    "SCOREBOARD_REDIS_URL",
    "SCOREBOARD_JWT_SECRET",
    "SCOREBOARD_TICKET_SECRET",
)


def _state_dir() -> Path:
    configured = os.environ.get("SCOREBOARD_STACK_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / ".stack"


pytestmark = pytest.mark.skipif(os.environ.get("SCOREBOARD_TESTCONTAINERS_ACTIVE") == "1",
                                reason="the services come from testcontainers, not the local stack")


@pytest.fixture(scope="module")
def stack() -> StackInfo:
    return up(_state_dir())


def test_stack_env_holds_every_contract_variable(stack: StackInfo) -> None:
    """stack.env names the three service URLs and both secrets, as read_stack_env returns them."""
    env = read_stack_env(_state_dir())
    assert env == dict(stack.env)
    for name in CONTRACT_VARIABLES:
        assert env.get(name), name


def test_kafka_answers_at_the_bootstrap_in_stack_env(stack: StackInfo) -> None:
    """A Kafka broker serves cluster metadata at SCOREBOARD_KAFKA_BOOTSTRAP."""
    admin = AdminClient({"bootstrap.servers": read_stack_env(_state_dir())["SCOREBOARD_KAFKA_BOOTSTRAP"]})
    metadata = retry_kafka(lambda: admin.list_topics(timeout=10), what="cluster metadata")
    assert len(metadata.brokers) >= 1


def test_postgres_accepts_the_dsn_in_stack_env(stack: StackInfo) -> None:
    """SCOREBOARD_DATABASE_URL connects and can create objects in its database."""
    dsn = read_stack_env(_state_dir())["SCOREBOARD_DATABASE_URL"]
    with psycopg.connect(dsn, connect_timeout=5) as connection:
        connection.execute("CREATE TEMP TABLE stack_probe (id int)")
        row = connection.execute("SELECT current_database()").fetchone()
    assert row is not None and row[0]


def test_redis_answers_at_the_url_in_stack_env(stack: StackInfo) -> None:
    """SCOREBOARD_REDIS_URL answers PING and stores a value."""
    client = redis.Redis.from_url(read_stack_env(_state_dir())["SCOREBOARD_REDIS_URL"], socket_timeout=5)
    key = f"stack-test:{uuid.uuid4()}"
    try:
        assert client.ping()
        client.set(key, "1", ex=30)
        assert client.get(key) == b"1"
    finally:
        client.delete(key)
        client.close()


def test_status_reports_every_service_as_answering(stack: StackInfo) -> None:
    """status() has one line per service saying it is up, without printing a password."""
    report = status(_state_dir())
    lines = {line.split()[0]: line for line in report.splitlines() if line.strip()}
    for service in ("kafka", "postgres", "redis"):
        assert lines[service].split()[1] == "up", report
    password = psycopg.conninfo.conninfo_to_dict(stack.database_url).get("password")
    if password:
        assert str(password) not in report


def test_secret_files_are_readable_by_the_owner_only(stack: StackInfo) -> None:
    """secrets.env and stack.env are mode 600 and hold long random secrets."""
    for name in ("secrets.env", "stack.env"):
        mode = stat.S_IMODE((_state_dir() / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {mode:o}"
    secrets = read_env_file(_state_dir() / "secrets.env")
    assert len(secrets["SCOREBOARD_JWT_SECRET"]) >= 48
    assert secrets["SCOREBOARD_JWT_SECRET"] != secrets["SCOREBOARD_TICKET_SECRET"]


def test_up_twice_is_idempotent_and_fast(stack: StackInfo) -> None:
    """A second up keeps the same URLs, secrets and processes and only verifies them."""
    started = time.monotonic()
    again = up(_state_dir())
    elapsed = time.monotonic() - started
    assert dict(again.env) == dict(stack.env)
    assert [report.pid for report in again.services] == [report.pid for report in stack.services]
    assert elapsed < 30, f"warm up took {elapsed:.1f} s"


def test_env_files_are_created_private_and_round_trip(tmp_path: Path) -> None:
    """write_env_file creates a mode-600 file that read_env_file reads back unchanged."""
    path = tmp_path / "sub" / "x.env"
    values = {"A": "1", "B": "postgresql://u:p@h:1/d"}
    write_env_file(path, values, header="test")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_env_file(path) == values


def test_broker_pom_pins_slf4j_2_so_log4j_binds() -> None:
    """The generated pom lists kafka_2.13, the log4j2 backend and an explicit slf4j-api 2.x."""
    pom = render_pom()
    for artifact in ("kafka_2.13", "log4j-core", "log4j-slf4j2-impl", "slf4j-api"):
        assert f"<artifactId>{artifact}</artifactId>" in pom
    assert "<version>2.0.17</version>" in pom


def test_printed_urls_hide_passwords() -> None:
    """redact_url masks the password of a DSN and leaves password-less URLs alone."""
    assert redact_url("postgresql://u:secret@127.0.0.1:5432/d") == "postgresql://u:***@127.0.0.1:5432/d"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
