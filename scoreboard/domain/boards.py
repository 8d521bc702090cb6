"""Board ids and time windows: ``global``, ``daily:YYYY-MM-DD`` (UTC day), ``weekly:YYYY-Www`` (ISO week).

``daily`` and ``weekly`` alone name the window that contains "now".
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

GLOBAL = "global"
_DAILY = re.compile(r"^daily:(\d{4})-(\d{2})-(\d{2})$")
_WEEKLY = re.compile(r"^weekly:(\d{4})-W(\d{2})$")


class UnknownBoard(ValueError):
    """The text does not name a board."""


DAY_US = 86_400_000_000


def boards_for(occurred_at_us: int) -> tuple[str, str, str]:
    """Every board an event at this server time counts on, ``GLOBAL`` first (scoring relies on it)."""
    return _boards_of_day(occurred_at_us // DAY_US)


@lru_cache(maxsize=1024)
def _boards_of_day(day_number: int) -> tuple[str, str, str]:
    day = date(1970, 1, 1) + timedelta(days=day_number)
    return (GLOBAL, daily_id(day), weekly_id(day))


def daily_id(day: date) -> str:
    return f"daily:{day.isoformat()}"


def weekly_id(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"weekly:{year:04d}-W{week:02d}"


def resolve(board: str, now_us: int) -> str:
    """The concrete board id that ``board`` names at ``now_us``; raises ``UnknownBoard``."""
    if board == GLOBAL:
        return GLOBAL
    today = datetime.fromtimestamp(now_us / 1_000_000, tz=UTC).date()
    if board == "daily":
        return daily_id(today)
    if board == "weekly":
        return weekly_id(today)
    daily = _DAILY.match(board)
    if daily:
        try:
            return daily_id(date(int(daily[1]), int(daily[2]), int(daily[3])))
        except ValueError as exc:
            raise UnknownBoard(board) from exc
    weekly = _WEEKLY.match(board)
    if weekly:
        try:
            monday = date.fromisocalendar(int(weekly[1]), int(weekly[2]), 1)
        except ValueError as exc:
            raise UnknownBoard(board) from exc
        return weekly_id(monday)
    raise UnknownBoard(board)
