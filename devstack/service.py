"""What the stack knows about one service, for ``status`` and for ``up``'s summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceReport:
    """One service: where it answers, whether it does, and whether this stack runs it.

    ``managed`` is True when this stack started the process (``down`` stops only those); an
    external service that answered at the configured URL is reused and left alone.
    """

    name: str
    url: str
    answers: bool
    managed: bool
    pid: int | None = None
    port: int | None = None
    log_file: Path | None = None

    def describe(self) -> str:
        """One human-readable line, e.g. for ``scoreboard stack status``."""
        state = "up" if self.answers else "DOWN"
        origin = "managed" if self.managed else "external" if self.answers else "not running"
        parts = [
            f"{self.name:<9} {state:<4}  {origin:<11}",
            f"url={redact_url(self.url)}",
            f"pid={self.pid if self.pid is not None else '-'}",
            f"port={self.port if self.port is not None else '-'}",
            f"log={self.log_file if self.log_file is not None else '-'}",
        ]
        return "  ".join(parts)


def redact_url(url: str) -> str:
    """``url`` with any password masked, for printing."""
    scheme, separator, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not separator or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"
