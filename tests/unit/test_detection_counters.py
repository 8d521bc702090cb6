"""The two counter detectors: ``prober`` (refused attempts recorded in the event) and ``tireless``
(active hours kept in the ledger's usage counters)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoreboard.domain.catalog import parse_catalog
from scoreboard.domain.detectors.counters import (
    HOUR_US,
    CounterDetection,
    ProberConfig,
    TirelessConfig,
    active_hours,
    advance_hours,
    prober_flag,
    tireless_flag,
)
from scoreboard.domain.errors import ConfigurationError
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.scoring import Positioned
from tests.support.memory_ledger import MemoryLedger

DAY0 = 1_796_000_000 // 86_400 * 86_400 * 1_000_000


def mask_after(hours: list[int]) -> tuple[int, int]:
    window, mask = 0, 0
    for hour in hours:
        window, mask = advance_hours(window, mask, DAY0 + hour * HOUR_US + 5)
    return window, mask


def test_the_hours_mask_marks_each_active_hour_once_and_slides() -> None:
    window, mask = mask_after([0, 0, 1, 5, 5, 30])
    assert window == DAY0 // HOUR_US + 30
    assert active_hours(mask, 24) == 1  # hours 0, 1 and 5 are more than 24 hours before hour 30
    assert [h for h in range(48) if mask >> h & 1] == [0, 25, 29, 30]


@given(st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=60))
def test_the_mask_counts_the_distinct_hours_of_the_last_window(hours: list[int]) -> None:
    """Whatever the order of nearby actions, the bits are the distinct active hours within 48 of the last."""
    ordered = sorted(hours)
    window, mask = mask_after(ordered)
    last = ordered[-1]
    assert {last - h for h in range(48) if mask >> h & 1} == {h for h in ordered if last - h < 48}


def test_a_round_the_clock_day_is_tireless_and_a_human_day_is_not() -> None:
    config = TirelessConfig()
    bot = mask_after(list(range(24)))
    human = mask_after([7, 8, 9, 12, 13, 18, 19, 20, 21, 22, 23])
    grinder = mask_after(list(range(6, 24)))  # 18 hours awake, playing every one of them
    assert tireless_flag(config, *bot, at_us=DAY0 + 23 * HOUR_US) is not None
    assert tireless_flag(config, *human, at_us=DAY0 + 23 * HOUR_US) is None
    assert tireless_flag(config, *grinder, at_us=DAY0 + 23 * HOUR_US) is None


def test_the_prober_flags_dozens_of_refusals_not_a_few_retries() -> None:
    config = ProberConfig()
    assert prober_flag(config, 3, DAY0) is None
    flag = prober_flag(config, 80, DAY0)
    assert flag is not None and flag.detector == "prober" and flag.hold_from_us == DAY0 - HOUR_US
    assert prober_flag(ProberConfig(enabled=False), 80, DAY0) is None
    shadowed = prober_flag(ProberConfig(shadow=True), 80, DAY0)
    assert shadowed is not None and shadowed.shadow


@pytest.mark.parametrize("table", [
    {"prober": {"min_refused": 0}}, {"prober": {"min_refused": "30"}}, {"prober": {"nope": 1}},
    {"tireless": {"min_active_hours": 30}}, {"tireless": {"window_hours": 49, "min_active_hours": 20}},
    {"tireless": "yes"},
])
def test_bad_counter_settings_are_refused_naming_the_key(table: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="detection"):
        CounterDetection.from_mapping(table)


CATALOG = parse_catalog({
    "version": "c1", "limits": {"max_points_per_hour": 10_000, "max_points_per_day": 100_000},
    "actions": {"tick": {"points": 10, "cooldown_seconds": 60}},
    "detection": {"tireless": {"min_active_hours": 20}, "prober": {"min_refused": 30}},
})


def test_the_worker_flags_a_round_the_clock_account_from_its_usage_counter() -> None:
    """Through the scoring core with the catalog's settings: the counter lives in the ledger's usage."""
    from scoreboard.domain.catalog import Catalogs
    from scoreboard.domain.policy import Judge

    judge = Judge(Catalogs(CATALOG, {"c1": CATALOG}), max_skew_us=10**12)
    assert CATALOG.detection is not None
    ledger = MemoryLedger(judge=judge, detection=CATALOG.detection)
    events = [ActionCompleted(f"e{h}", "bot", "tick", f"n{h}", 10, "c1", DAY0 + h * HOUR_US + 17) for h in range(22)]
    ledger.apply_batch_sync([Positioned(e, 0, i) for i, e in enumerate(events)])
    review = ledger.reviews["bot"]
    assert review.detector == "tireless" and review.offset == 19  # the 20th active hour
    probe = ActionCompleted("p", "prober", "tick", "n", 10, "c1", DAY0, refused_before=45)
    ledger.apply_batch_sync([Positioned(probe, 1, 0)])
    assert ledger.reviews["prober"].detector == "prober"
