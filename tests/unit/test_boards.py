"""Board ids and windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scoreboard.domain.boards import UnknownBoard, boards_for, resolve
from scoreboard.domain.clock import to_micros


def at(text: str) -> int:
    return to_micros(datetime.fromisoformat(text).replace(tzinfo=UTC))


def test_an_event_counts_on_global_its_utc_day_and_its_iso_week() -> None:
    """boards_for names the three windows of the event's server time."""
    assert boards_for(at("2026-11-27T12:00:00")) == ("global", "daily:2026-11-27", "weekly:2026-W48")


def test_the_last_microsecond_of_a_day_and_the_first_of_the_next_fall_in_different_windows() -> None:
    """Midnight UTC is the boundary of the daily board; Sunday to Monday of the weekly."""
    before = boards_for(at("2026-11-29T23:59:59.999999"))
    after = boards_for(at("2026-11-30T00:00:00"))
    assert before[1:] == ("daily:2026-11-29", "weekly:2026-W48")
    assert after[1:] == ("daily:2026-11-30", "weekly:2026-W49")


def test_iso_week_of_early_january_can_belong_to_the_previous_year() -> None:
    """1 January 2027 is a Friday of ISO week 2026-W53."""
    assert boards_for(at("2027-01-01T08:00:00"))[2] == "weekly:2026-W53"


def test_aliases_resolve_to_the_window_containing_now() -> None:
    """daily and weekly alone mean the current windows."""
    now = at("2026-11-27T10:00:00")
    assert resolve("daily", now) == "daily:2026-11-27"
    assert resolve("weekly", now) == "weekly:2026-W48"
    assert resolve("global", now) == "global"
    assert resolve("weekly:2026-W48", now) == "weekly:2026-W48"


@pytest.mark.parametrize("board", ["", "monthly", "daily:2026-02-30", "weekly:2026-W60", "daily:26-11-27",
                                   "global ", "daily:2026-11-27x"])
def test_text_that_names_no_board_is_refused(board: str) -> None:
    """Unknown names and impossible dates raise UnknownBoard."""
    with pytest.raises(UnknownBoard):
        resolve(board, at("2026-11-27T10:00:00"))
