"""The tests' guard against a UTC midnight inside a day-dependent test: it waits only close to midnight,
and then until midnight has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tests.support.utc_day import clear_of_utc_midnight, seconds_to_utc_midnight


def test_seconds_to_midnight_count_in_utc_whatever_the_zone_of_now() -> None:
    assert seconds_to_utc_midnight(datetime(2026, 11, 29, 23, 59, 30, tzinfo=UTC)) == 30
    assert seconds_to_utc_midnight(datetime(2026, 11, 30, 0, 0, tzinfo=UTC)) == 86_400
    tokyo = timezone(timedelta(hours=9))
    assert seconds_to_utc_midnight(datetime(2026, 11, 30, 8, 59, tzinfo=tokyo)) == 60  # 23:59 UTC


def test_far_from_midnight_it_returns_at_once() -> None:
    calls: list[datetime] = []

    def now() -> datetime:
        calls.append(datetime(2026, 11, 29, 12, tzinfo=UTC))
        return calls[-1]

    clear_of_utc_midnight(300, now=now)
    assert len(calls) == 1


def test_close_to_midnight_it_waits_until_the_new_day() -> None:
    """Sunday 23:58 with a margin of 5 minutes: it returns only once the clock reads Monday."""
    times = iter([datetime(2026, 11, 29, 23, 58, tzinfo=UTC), datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC),
                  datetime(2026, 11, 30, 0, 0, 1, tzinfo=UTC)])
    seen: list[datetime] = []

    def now() -> datetime:
        seen.append(next(times))
        return seen[-1]

    clear_of_utc_midnight(300, now=now)
    assert seen[-1].date() == datetime(2026, 11, 30).date() and len(seen) == 3
