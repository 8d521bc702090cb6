"""Pure parts of the reads: Prefer parsing, history cursors, board windows, percentiles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from producer_api.query_routes import decode_cursor, encode_cursor, user_rank_json
from producer_api.visibility import MAX_WAIT_SECONDS, preferred_wait
from projections.asof import window_of
from projections.pages import Placement
from scoreboard.adapters.web.problems import Problem
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import BoardEntry


@pytest.mark.parametrize(("header", "wait"), [
    ("wait=5", 5), ("respond-async, wait=3", 3), ("WAIT = 2", 2), ('wait="4"', 4), ("wait=600", MAX_WAIT_SECONDS),
    ("", None), ("wait=soon", None), ("wait=-1", None), ("return=minimal", None), ("wait=0", 0),
])
def test_the_wait_preference_is_read_capped_and_a_malformed_one_ignored(header: str, wait: int | None) -> None:
    """RFC 7240: wait=N among other preferences; above the cap it is capped; garbage is ignored."""
    assert preferred_wait(header) == wait


def test_a_history_cursor_round_trips_and_a_forged_one_is_a_422() -> None:
    """Cursors are opaque base64url; anything not handed out (or out of bigint range) is refused."""
    position = (1_795_000_000_123_456, 42)
    assert decode_cursor(encode_cursor(position)) == position
    for forged in ("", "not-a-cursor", "aDE6WzFd", encode_cursor((1 << 63, 1)), "aDE6WyJhIiwgMV0"):
        with pytest.raises(Problem) as raised:
            decode_cursor(forged)
        assert raised.value.status == 422


def test_board_windows_are_the_utc_day_and_the_iso_week() -> None:
    """daily:2026-11-27 is that UTC day; weekly:2026-W48 runs Monday 23 to Monday 30 November 2026."""
    day = to_micros(datetime(2026, 11, 27, tzinfo=UTC))
    assert window_of("daily:2026-11-27") == (day, day + 86_400_000_000)
    monday = to_micros(datetime(2026, 11, 23, tzinfo=UTC))
    assert window_of("weekly:2026-W48") == (monday, monday + 7 * 86_400_000_000)
    start, end = window_of("global")
    assert start < 0 < end
    with pytest.raises(ValueError):
        window_of("monthly:2026-11")


def test_the_percentile_is_the_share_of_the_board_at_or_below_the_user() -> None:
    """Rank 1 of 4 is 100, rank 4 of 4 is 25."""
    def pct(rank: int, total: int) -> float:
        placement = Placement(1, total, BoardEntry(rank, "u", 1), ())
        return float(user_rank_json("global", placement)["percentile"])

    assert (pct(1, 4), pct(4, 4), pct(2, 3)) == (100.0, 25.0, 66.67)
