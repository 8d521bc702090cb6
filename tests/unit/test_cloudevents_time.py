"""``ce_time`` is the text the datetime formatting gives, for any microsecond."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scoreboard.adapters.cloudevents import ce_time, cloud_event_headers
from scoreboard.domain.clock import to_datetime


def slow(time_us: int) -> bytes:
    return to_datetime(time_us).isoformat().replace("+00:00", "Z").encode()


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.integers(0, 4_200_000_000_000_000), st.integers(1_700_000_000_000_000, 1_900_000_000_000_000),
                 st.integers(0, 10**9).map(lambda n: 1_800_000_000_000_000 + n * 1_000_000)))
def test_ce_time_is_the_isoformat_text(time_us: int) -> None:
    assert ce_time(time_us) == slow(time_us)


def test_whole_seconds_have_no_fraction_and_the_headers_keep_their_order() -> None:
    assert ce_time(1_800_000_000_000_000) == b"2027-01-15T08:00:00Z"
    assert ce_time(1_800_000_000_000_001) == b"2027-01-15T08:00:00.000001Z"
    names = [name for name, _ in cloud_event_headers("e-1", "ActionCompleted", "/s", 1_800_000_000_000_000)]
    assert names == ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"]
