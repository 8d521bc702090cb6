"""When the window behind an alias (``daily``, ``weekly``) ends, so a live client can follow it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from scoreboard.domain.clock import to_micros

ALIASES = ("daily", "weekly")


def next_rollover_us(name: str, now_us: int) -> int | None:
    """Start of the next UTC day (``daily``) or ISO week (``weekly``); None for a fixed board id."""
    if name not in ALIASES:
        return None
    today = datetime.fromtimestamp(now_us / 1_000_000, tz=UTC).date()
    days = 1 if name == "daily" else 7 - today.weekday()
    return to_micros(datetime.combine(today + timedelta(days=days), time(), tzinfo=UTC))
