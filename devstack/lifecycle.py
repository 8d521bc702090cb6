"""``up``, ``down`` and ``status`` of the local stack (Kafka, Postgres, Redis).

``up`` is idempotent: running services are only verified, so a warm ``up`` takes about a second.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from devstack.envfile import read_env_file, write_env_file
from devstack.errors import StackError
from devstack.kafka import BOOTSTRAP_VARIABLE, ensure_kafka, kafka_status, stop_kafka
from devstack.kafka_sasl import SaslListener, ensure_sasl_user, prepare_sasl_listener
from devstack.paths import StackPaths, resolve_paths
from devstack.postgres import (
    DATABASE_URL_VARIABLE,
    ensure_postgres,
    postgres_status,
    stop_postgres,
)
from devstack.progress import announce
from devstack.redis import (
    REDIS_URL_VARIABLE,
    ensure_redis,
    redis_status,
    stop_redis,
)
from devstack.secrets import (
    CHANGE_SIGNING_SECRET,
    EVENT_SIGNING_SECRET,
    JWT_SECRET,
    TICKET_SECRET,
    load_or_create_secrets,
)
from devstack.service import ServiceReport
from devstack.state import StackState

logger = logging.getLogger(__name__)

PROVISION_MODULE = "scoreboard.runtime.provision"


@dataclass(frozen=True)
class StackInfo:
    """The running stack: where it keeps state, its services and the ``stack.env`` it wrote."""

    state_dir: Path
    env_file: Path
    env: Mapping[str, str]
    services: tuple[ServiceReport, ...]

    @property
    def kafka_bootstrap(self) -> str:
        return self.env[BOOTSTRAP_VARIABLE]

    @property
    def database_url(self) -> str:
        return self.env[DATABASE_URL_VARIABLE]

    @property
    def redis_url(self) -> str:
        return self.env[REDIS_URL_VARIABLE]


def read_stack_env(state_dir: Path | None = None) -> dict[str, str]:
    """The ``stack.env`` written by the last ``up`` (empty when there was none)."""
    return read_env_file(resolve_paths(state_dir).stack_env_file)


def up(state_dir: Path | None = None) -> StackInfo:
    """Start (or verify, or reuse) Kafka, Postgres and Redis; write ``stack.env``; provision."""
    started = time.monotonic()
    paths = resolve_paths(state_dir)
    with _exclusive(paths):
        secrets = load_or_create_secrets(paths.secrets_file)
        state = StackState(paths.state_file)
        sasl = prepare_sasl_listener(paths, state, secrets.kafka_test_password)
        reports = _run_concurrently(
            {
                "kafka": lambda: ensure_kafka(paths, sasl),
                "postgres": lambda: ensure_postgres(paths, state, secrets.postgres_password),
                "redis": lambda: ensure_redis(paths, state),
            }
        )
        env = {
            BOOTSTRAP_VARIABLE: reports["kafka"].url,
            DATABASE_URL_VARIABLE: reports["postgres"].url,
            REDIS_URL_VARIABLE: reports["redis"].url,
            JWT_SECRET: secrets.jwt_secret,
            TICKET_SECRET: secrets.ticket_secret,
            EVENT_SIGNING_SECRET: secrets.event_signing_secret,
            CHANGE_SIGNING_SECRET: secrets.change_signing_secret,
        }
        if reports["kafka"].managed:  # a reused external broker has no SASL_SSL listener of ours
            env |= _sasl_env(sasl)
        write_env_file(
            paths.stack_env_file, env, header="Written by `scoreboard stack up`. Local development only."
        )
        _provision(env)
    services = tuple(reports[name] for name in ("kafka", "postgres", "redis"))
    for report in services:
        announce(report.describe())
    announce(f"ready in {time.monotonic() - started:.1f} s; environment in {paths.stack_env_file}")
    return StackInfo(paths.state_dir, paths.stack_env_file, env, services)


def down(state_dir: Path | None = None) -> None:
    """Stop the services this stack started (data is kept); reused external ones are left alone."""
    paths = resolve_paths(state_dir)
    with _exclusive(paths):
        state = StackState(paths.state_file)
        results = {
            "kafka": stop_kafka(paths),
            "redis": stop_redis(paths),
            "postgres": stop_postgres(paths, state),
        }
    stopped = [name for name, was_running in results.items() if was_running]
    announce(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


def status(state_dir: Path | None = None) -> str:
    """One line per service: whether it answers, who runs it, pid, port and log."""
    paths = resolve_paths(state_dir)
    env = read_env_file(paths.stack_env_file)
    state = StackState(paths.state_file)
    reports = (
        kafka_status(paths, env.get(BOOTSTRAP_VARIABLE)),
        postgres_status(paths, state, env.get(DATABASE_URL_VARIABLE)),
        redis_status(paths, state),
    )
    lines = [report.describe() for report in reports]
    lines.append(f"state     {paths.state_dir}  env={paths.stack_env_file}")
    return "\n".join(lines)


def _sasl_env(sasl: SaslListener) -> dict[str, str]:
    """The SASL_SSL listener's ``stack.env`` entries once its SCRAM user exists; none (and a warning)
    when the user cannot be made: only the SASL_SSL tests need it, the stack itself works without."""
    try:
        ensure_sasl_user(sasl)
    except KafkaException as error:
        announce(f"kafka: the SASL_SSL listener's SCRAM user could not be created ({error}); "
                 "its variables are left out of stack.env")
        return {}
    return sasl.env()


def _run_concurrently(starters: Mapping[str, Callable[[], ServiceReport]]) -> dict[str, ServiceReport]:
    """Start services in parallel (Kafka's JVM boot dominates); report every failure, not the first."""
    with ThreadPoolExecutor(max_workers=len(starters), thread_name_prefix="stack") as pool:
        futures = {name: pool.submit(start) for name, start in starters.items()}
        reports: dict[str, ServiceReport] = {}
        failures: list[str] = []
        for name, future in futures.items():
            try:
                reports[name] = future.result()
            except StackError as error:
                failures.append(str(error))
    if failures:
        raise StackError("\n".join(failures))
    return reports


def _provision(env: dict[str, str]) -> None:
    """Hand the environment to ``scoreboard.runtime.provision.provision`` (topics, migrations) if present."""
    if importlib.util.find_spec(PROVISION_MODULE) is None:
        logger.info("no %s module; skipping provisioning", PROVISION_MODULE)
        return
    announce("provisioning topics and schema")
    provision: Callable[[dict[str, str]], None] = importlib.import_module(PROVISION_MODULE).provision
    provision(dict(env))


@contextmanager
def _exclusive(paths: StackPaths) -> Iterator[None]:
    """Serialise ``up``/``down`` across processes sharing one state dir."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    ignore = paths.state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Local stack state (data, logs, secrets): never commit.\n*\n", encoding="utf-8")
    with (paths.state_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
