"""Write ``KEY=value`` files that hold secrets (always mode 600); the processes read them with
``scoreboard.settings.read_env_file``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from scoreboard.settings import read_env_file

__all__ = ["PRIVATE_MODE", "read_env_file", "write_env_file"]
PRIVATE_MODE = 0o600


def write_env_file(path: Path, values: Mapping[str, str], header: str = "") -> None:
    """Atomically replace ``path`` with ``values``, readable by the owner only.

    The temporary file is created with mode 600, so no secret is ever world-readable, not even
    for a moment.
    """
    for key, value in values.items():
        if "\n" in value or "=" in key:
            raise ValueError(f"cannot store {key!r} in an env file")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{key}={value}" for key, value in values.items()]
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(temporary, PRIVATE_MODE)
    os.replace(temporary, path)
