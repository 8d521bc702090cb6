"""The simulation's honest players are deterministic per seed and paced like humans."""

from __future__ import annotations

import random
from collections import Counter

from bench.simulation.agents import DAY_US, HOUR_US, SECOND_US
from bench.simulation.population import Clock, Habits, PopulationPlan, honest_agents, sessions
from bench.simulation.stats import burstiness, median
from tests.unit.test_simulation_bots import RecordingCore, drive

T0 = 1_796_601_600_000_000  # 2026-12-07 00:00 UTC
PLAN = PopulationPlan(users=300, nat_users=40)


def clock(plan: PopulationPlan = PLAN) -> Clock:
    return Clock(T0, T0 + 2 * DAY_US, plan)


def played(seed: int) -> RecordingCore:
    core, _ = drive(list(honest_agents(seed, PLAN, clock())), 48)
    return core


def test_the_same_seed_gives_the_same_players_and_a_new_seed_other_ones() -> None:
    """Every record, its time and its user are a function of the seed."""
    first, again, other = played(5), played(5), played(6)
    assert len(first.events) > 1000
    assert first.events == again.events
    assert [e.occurred_at_us for e in first.events[:50]] != [e.occurred_at_us for e in other.events[:50]]


def test_players_are_bursty_like_humans_not_periodic() -> None:
    """Most players with enough actions have inter-action times with burstiness above 0."""
    core = played(7)
    by_user: dict[str, list[int]] = {}
    for event in core.events:
        by_user.setdefault(event.user_id, []).append(event.occurred_at_us)
    scores = [b for at in by_user.values() if len(at) >= 20
              if (b := burstiness([y - x for x, y in zip(at, at[1:], strict=False)])) is not None]
    assert len(scores) >= 30
    assert sum(1 for b in scores if b > 0) >= 0.9 * len(scores)


def test_sessions_are_heavy_tailed_and_follow_the_time_of_day() -> None:
    """Weibull shape below 1: the median session is well below the mean; evening starts outnumber morning."""
    rng = random.Random(1)
    habits = Habits(3.0, 20 * 60, 1.0, 20.0)
    found = [s for _ in range(300) for s in sessions(rng, habits, clock())]
    lengths = [(end - start) / SECOND_US for start, end in found]
    assert (median(lengths) or 0) < 0.8 * sum(lengths) / len(lengths)
    hours = Counter(((start % DAY_US) // HOUR_US) for start, _ in found)
    assert hours[20] > 2.5 * hours[8]


def test_the_event_hour_doubles_session_starts() -> None:
    """Starts in the surge hour against the same hour of the day before."""
    plan = PopulationPlan(surge_start_h=43.0)
    rng = random.Random(2)
    habits = Habits(2.0, 20 * 60, 1.0, 20.0)
    found = [start for _ in range(2000) for start, _ in sessions(rng, habits, clock(plan))]
    surge = sum(1 for s in found if T0 + 43 * HOUR_US <= s < T0 + 44 * HOUR_US)
    before = sum(1 for s in found if T0 + 19 * HOUR_US <= s < T0 + 20 * HOUR_US)
    assert surge > 1.5 * before


def test_the_suspicious_honest_groups_are_there() -> None:
    """A 0.1% grinder group, 200 users behind one address (40 of them new), newcomers first seen in the span."""
    humans = honest_agents(3, PopulationPlan(users=3000), clock())
    accounts = [h.accounts[0] for h in humans]
    groups = Counter(a.group for a in accounts)
    assert groups["grinder"] == 3 and groups["nat"] == 200 and groups["newcomer"] == 300
    assert len({a.address for a in accounts if a.group == "nat"}) == 1
    assert len({a.device for a in accounts}) == 3000
    assert all(a.known_since_us == 0 for a in accounts if a.group == "newcomer")
    assert all(0 < a.known_since_us < T0 for a in accounts if a.group in ("regular", "grinder"))
    assert sum(1 for a in accounts if a.group == "nat" and a.known_since_us == 0) == 40
    newcomers = [h for h in humans if h.accounts[0].group == "newcomer"]
    assert all(h.first_wake_us >= T0 for h in newcomers) and min(h.first_wake_us for h in newcomers) < T0 + DAY_US
