"""The local development stack: Kafka (KRaft), Postgres and Redis on loopback.

State (data, logs, pid files, ``secrets.env``, ``stack.env``) lives in ``$SCOREBOARD_STACK_DIR``
(default ``./.stack``); Kafka jars are cached in ``$XDG_CACHE_HOME/scoreboard``. Services already
answering at ``SCOREBOARD_KAFKA_BOOTSTRAP``/``SCOREBOARD_DATABASE_URL``/``SCOREBOARD_REDIS_URL`` are
reused instead of started. Importing this package does no I/O.
"""

from __future__ import annotations

from devstack.cli import main
from devstack.errors import StackError
from devstack.lifecycle import StackInfo, down, read_stack_env, status, up
from devstack.service import ServiceReport

__all__ = ["ServiceReport", "StackError", "StackInfo", "down", "main", "read_stack_env", "status", "up"]
