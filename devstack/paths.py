"""Where the local stack keeps its state (per checkout) and its downloads (per user)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_VARIABLE = "SCOREBOARD_STACK_DIR"
KAFKA_VERSION = "4.1.1"


@dataclass(frozen=True)
class StackPaths:
    """Every path the stack reads or writes, derived from the state dir and the user cache."""

    state_dir: Path
    cache_dir: Path

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.env"

    @property
    def stack_env_file(self) -> Path:
        return self.state_dir / "stack.env"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "services.json"

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def redis_dir(self) -> Path:
        return self.state_dir / "redis"

    @property
    def postgres_dir(self) -> Path:
        """The default home of the Postgres instance (it may move, see ``postgres``)."""
        return self.state_dir / "postgres"

    @property
    def kafka_dist_dir(self) -> Path:
        return self.cache_dir / f"kafka-{KAFKA_VERSION}"


def default_state_dir() -> Path:
    """``$SCOREBOARD_STACK_DIR``, else ``<cwd>/.stack``."""
    configured = os.environ.get(STATE_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser().resolve()
    return (Path.cwd() / ".stack").resolve()


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/scoreboard``, else ``~/.cache/scoreboard``; never inside the repo."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "scoreboard"


def resolve_paths(state_dir: Path | None = None) -> StackPaths:
    """The paths for ``state_dir`` (default: from the environment)."""
    return StackPaths(
        state_dir=state_dir.resolve() if state_dir else default_state_dir(),
        cache_dir=user_cache_dir(),
    )
