"""The worker's judgement of the catalog's policy, from the log alone (pure: the ledger's core)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from scoreboard.domain.catalog import Catalogs, parse_catalog
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import ActionCompleted, LogEvent, UserBanned
from scoreboard.domain.policy import HOUR_US, Judge
from scoreboard.domain.scoring import Positioned
from tests.support.memory_ledger import MemoryLedger

SECOND = 1_000_000
T0 = to_micros(datetime(2026, 11, 30, 10, tzinfo=UTC))
CATALOG = parse_catalog({
    "version": "v2",
    "limits": {"max_points_per_hour": 300, "max_points_per_day": 500},
    "actions": {
        "login": {"points": 5, "daily_cap": 1},
        "match": {"points": 100, "cooldown_seconds": 60},
        "level": {"points": 50, "daily_cap": 100},
        "off": {"points": 7, "daily_cap": 1, "enabled": False},
    },
})
OLD = parse_catalog({"version": "v1", "limits": {"max_points_per_hour": 300, "max_points_per_day": 500},
                     "actions": {"match": {"points": 80, "cooldown_seconds": 60}}})
JUDGE = Judge(Catalogs(CATALOG, {"v2": CATALOG, "v1": OLD}), max_skew_us=300 * SECOND)


def act(action: str, at: int, user: str = "ann", points: int | None = None, version: str = "v2",
        n: list[int] = [0]) -> ActionCompleted:  # noqa: B006 - a counter for unique nonces
    n[0] += 1
    catalog = OLD if version == "v1" else CATALOG
    value = points if points is not None else catalog.actions[action].points if action in catalog.actions else 1
    return ActionCompleted(f"e{n[0]}", user, action, f"n{n[0]}", value, version, at)


def decide(events: list[LogEvent], broker_times: list[int] | None = None) -> list[str]:
    """'ok' or the rejection code of each event, one batch."""
    ledger = MemoryLedger(judge=JUDGE)
    times = broker_times or [e.occurred_at_us for e in events]
    outcome = ledger.apply_batch_sync([Positioned(e, 0, i, times[i]) for i, e in enumerate(events)])
    rejected = {r.offset: r.reason.split(":")[0] for r in outcome.rejected}
    return [rejected.get(i, "ok") for i in range(len(events))]


def test_a_cooldown_refuses_a_second_completion_within_it_and_allows_one_after() -> None:
    """cooldown 60 s (with the 1 s tolerance for the api's clock against Redis' expiry)."""
    assert decide([act("match", T0), act("match", T0 + 30 * SECOND), act("match", T0 + 59 * SECOND + 1),
                   act("match", T0 + 100 * SECOND)]) == ["ok", "cooldown", "ok", "cooldown"]


def test_a_daily_cap_resets_at_midnight_utc() -> None:
    midnight = to_micros(datetime(2026, 12, 1, tzinfo=UTC))
    assert decide([act("login", midnight - 10 * SECOND), act("login", midnight - SECOND),
                   act("login", midnight)]) == ["ok", "cap", "ok"]


def test_the_hourly_and_daily_budgets_bound_points_across_actions() -> None:
    """300 points an hour, 500 a day: levels (50) every minute hit the hour, then the day."""
    events: list[LogEvent] = [act("level", T0 + i * 60 * SECOND) for i in range(8)]
    events += [act("level", T0 + HOUR_US + i * 60 * SECOND) for i in range(6)]
    assert decide(events) == ["ok"] * 6 + ["budget"] * 2 + ["ok"] * 4 + ["budget"] * 2


def test_points_are_judged_by_the_catalog_version_the_event_records() -> None:
    """v1 priced match at 80: an old event keeps its price; a wrong price or unknown version is refused."""
    assert decide([act("match", T0, version="v1"), act("match", T0 + HOUR_US, points=10**12),
                   act("match", T0 + 2 * HOUR_US, version="v9"), act("off", T0), act("nope", T0)]) == [
        "ok", "points-mismatch", "catalog-version", "unknown-action", "unknown-action"]


def test_a_record_far_from_its_broker_time_is_refused() -> None:
    """Backdated (to win ties) or from the far future: rejected for time-skew, even past year 9999."""
    far = 253_402_300_800_000_000 + 1
    events: list[LogEvent] = [act("match", T0 - HOUR_US), act("login", far), act("level", T0),
                              UserBanned("b", "ann", "r", "root", T0 - HOUR_US)]
    assert decide(events, [T0, T0, T0, T0]) == ["time-skew", "time-skew", "ok", "time-skew"]


def test_rejected_events_use_nothing_and_a_banned_user_is_refused_first() -> None:
    """A rejected completion does not start a cooldown nor use a cap; a ban refuses with `banned`."""
    events: list[LogEvent] = [act("match", T0, points=1), act("match", T0 + SECOND),
                              UserBanned("b", "ann", "r", "root", T0 + 2 * SECOND), act("level", T0 + 3 * SECOND)]
    assert decide(events) == ["points-mismatch", "ok", "ok", "banned"]


users = st.sampled_from(["ann", "bob"])
actions = st.sampled_from(["login", "match", "level"])


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(users, actions, st.integers(0, 40 * 60)), max_size=60),
       cuts=st.lists(st.integers(1, 7), min_size=1, max_size=20))
def test_any_batching_decides_every_event_as_one_at_a_time_does(
        steps: list[tuple[str, str, int]], cuts: list[int]) -> None:
    """The usage counters carry across batches exactly: a rebuild in 40,000-event batches and the live
    worker's small batches reach the same decisions."""
    at = T0
    events = []
    for user, action, gap_s in steps:
        at += gap_s * SECOND
        events.append(act(action, at, user))
    log = [Positioned(e, 0, i, e.occurred_at_us) for i, e in enumerate(events)]

    def run(sizes: list[int]) -> list[tuple[int, str]]:
        ledger = MemoryLedger(judge=JUDGE)
        decisions: list[tuple[int, str]] = []
        position, cut = 0, 0
        while position < len(log):
            size = sizes[cut % len(sizes)]
            cut += 1
            outcome = ledger.apply_batch_sync(log[position:position + size])
            decisions += [(e.offset, "ok") for e in outcome.accepted]
            decisions += [(r.offset, r.reason.split(":")[0]) for r in outcome.rejected]
            position += size
        return sorted(decisions)

    assert run(cuts) == run([1]) == run([10**6])
