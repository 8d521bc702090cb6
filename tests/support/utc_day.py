"""Tests whose outcome depends on the UTC day start clear of midnight.

A daily cap, the ``daily`` and ``weekly`` aliases and the day's board all follow the UTC calendar: a test
that completes a capped action at 23:59:59 and expects the next one refused, or reads ``daily`` right
after scoring, would see a new day (and on a Sunday night a new ISO week, which starts at a midnight
too) if midnight passed in between. Such a test first waits here until the next midnight is at least
its ``margin_s`` away, so no day boundary falls inside it (a wait that happens on a few minutes a day).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from testkit.waits import wait_until


def seconds_to_utc_midnight(now: datetime) -> float:
    """Seconds from ``now`` (aware) to the next 00:00 UTC."""
    now = now.astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return (midnight - now).total_seconds()


def clear_of_utc_midnight(margin_s: float = 300, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Return at once when the next UTC midnight is at least ``margin_s`` away; else wait until it has
    passed (the following one is then a day away)."""
    wait_until(lambda: seconds_to_utc_midnight(now()) >= margin_s, timeout_s=margin_s + 60, interval_s=0.5,
               what=f"a UTC day with {margin_s:.0f} s left (midnight passed)")
