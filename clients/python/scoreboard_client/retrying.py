"""When to retry, and how long to wait: shared by the sync and async clients, free of I/O so that
tests can drive it with a fake clock."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .errors import ProblemError, RetriesExhausted

KEY_FORMAT = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
"""What the api accepts as an Idempotency-Key."""

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that mean "not now": the request did not count (or a proxy lost it), try again later."""

RETRYABLE_TRANSPORT: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx.NetworkError,
                                                    httpx.RemoteProtocolError)
"""Failures where the request may or may not have reached the server: safe to repeat with the same key."""


def new_key() -> str:
    """A fresh Idempotency-Key: ``py-`` and a random UUID's 32 hex digits."""
    return f"py-{uuid.uuid4().hex}"


def checked_key(key: str | None) -> str:
    if key is None:
        return new_key()
    if not KEY_FORMAT.fullmatch(key):
        raise ValueError("an Idempotency-Key is 8 to 128 characters of A-Z a-z 0-9 . _ : -")
    return key


@dataclass(frozen=True)
class RetryPolicy:
    """How long ``complete`` (and the reads) keep trying.

    Every retry of a completion sends the same Idempotency-Key, so however often it is posted the
    server counts it once. A ``Retry-After`` from the server is honoured; otherwise the wait doubles from
    ``initial_backoff_s`` up to ``max_backoff_s`` (with jitter). The client gives up, raising
    ``RetriesExhausted``, after ``max_attempts`` attempts or when the next wait would end after
    ``total_s`` seconds from the first attempt.
    """

    total_s: float = 30.0
    max_attempts: int = 10
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    jitter: bool = True


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def problem_of(response: httpx.Response) -> ProblemError:
    """The answer's problem+json as an exception (a made-up problem when the body is not one)."""
    body: Any = None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    if not isinstance(body, dict) or "type" not in body:
        body = {"type": "about:blank", "title": response.reason_phrase, "status": response.status_code,
                "detail": response.text[:500]}
    return ProblemError(response.status_code, body, parse_retry_after(response.headers.get("retry-after")))


def is_retryable(error: ProblemError) -> bool:
    return error.status in RETRYABLE_STATUSES or (error.status == 409 and error.slug == "request-in-progress")


class Attempts:
    """One call's retry bookkeeping: each failed attempt asks it for the wait before the next."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float], key: str = "",
                 rng: random.Random | None = None) -> None:
        self.policy = policy
        self.clock = clock
        self.key = key
        self.count = 0
        self.started = clock()
        self._rng = rng or random.Random()

    def _backoff(self) -> float:
        delay = min(self.policy.max_backoff_s, self.policy.initial_backoff_s * 2.0 ** (self.count - 1))
        return delay * self._rng.uniform(0.5, 1.0) if self.policy.jitter else delay

    def wait_after(self, failure: Exception, retry_after: float | None = None) -> float:
        """The seconds to wait before the next attempt. When there is none: the refusal itself for a
        ``ProblemError``, else ``RetriesExhausted``."""
        self.count += 1
        delay = retry_after if retry_after is not None and retry_after > 0 else self._backoff()
        elapsed = self.clock() - self.started
        if self.count >= self.policy.max_attempts or elapsed + delay > self.policy.total_s:
            if isinstance(failure, ProblemError):
                raise self._stamped(failure)
            raise RetriesExhausted(self.key, self.count, failure) from failure
        return delay

    def _stamped(self, error: ProblemError) -> ProblemError:
        error.key = self.key or None
        error.attempts = max(self.count, 1)
        return error

    def judge(self, response: httpx.Response) -> float | None:
        """None for a success; the wait before retrying a retryable refusal; raises ``ProblemError`` for
        any other refusal."""
        if response.is_success:
            return None
        error = problem_of(response)
        if not is_retryable(error) or self.policy.max_attempts <= 1:
            self.count += 1
            raise self._stamped(error)
        return self.wait_after(error, error.retry_after)
