"""Typed errors: an api refusal carries its RFC 9457 problem; retries that ran out say why."""

from __future__ import annotations

from typing import Any

TYPE_BASE = "https://scoreboard.example/problems/"


class ScoreboardError(Exception):
    """The root of every error this client raises."""


class ProblemError(ScoreboardError):
    """The api answered with an error (``application/problem+json``, RFC 9457)."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None = None) -> None:
        self.key: str | None = None
        """The Idempotency-Key of the refused completion (None for other calls)."""
        self.attempts = 1
        """How many times the request was sent, retries included."""
        self.status = status
        self.problem = problem
        self.type: str = str(problem.get("type", "about:blank"))
        self.title: str = str(problem.get("title", ""))
        self.detail: str = str(problem.get("detail", ""))
        self.retry_after = retry_after
        super().__init__(f"{status} {self.slug}: {self.detail}" if self.detail else f"{status} {self.slug}")

    @property
    def slug(self) -> str:
        """The stable last part of ``type``, e.g. ``rate-limited``, ``cooldown``, ``request-in-progress``."""
        return self.type.rsplit("/", 1)[-1]


class RetriesExhausted(ScoreboardError):
    """The api could not be reached, or did not answer, within the client's time or attempt budget;
    ``last`` is the final transport error. Whether the action counted is unknown: posting the same
    Idempotency-Key again later is safe, the server counts a key once. (A refusal that is still there
    when the budget runs out, such as a 429 whose Retry-After is too far away, raises ``ProblemError``.)"""

    def __init__(self, key: str, attempts: int, last: BaseException) -> None:
        self.key = key
        self.attempts = attempts
        self.last = last
        super().__init__(f"gave up after {attempts} attempts with Idempotency-Key {key!r}: {last}")

