"""Each bot strategy of the cheat simulation produces the pattern it claims, against the api's rules."""

from __future__ import annotations

import random
from collections import Counter

from bench.simulation import bots as strategies
from bench.simulation.admission import Admission
from bench.simulation.agents import DAY_US, HOUR_US, SECOND_US, Account, Agent
from bench.simulation.core import Applied
from bench.simulation.engine import World
from bench.simulation.metrics import AccountRecord, Recorder, SeedOutcome
from scoreboard.domain.catalog import load_catalog
from scoreboard.domain.events import ActionCompleted

T0 = 1_796_601_600_000_000  # 2026-12-07 00:00 UTC
CATALOG = load_catalog()


class RecordingCore:
    """Counts every record as the ledger would, and remembers them."""

    def __init__(self) -> None:
        self.events: list[ActionCompleted] = []
        self.totals: Counter[str] = Counter()

    def apply(self, event: ActionCompleted, partition: int, offset: int, known_since_us: int = 0) -> Applied:
        self.events.append(event)
        self.totals[event.user_id] += event.points
        return Applied(True, "counted", self.totals[event.user_id])


def drive(agents: list[Agent], hours: float) -> tuple[RecordingCore, SeedOutcome]:
    end = T0 + int(hours * HOUR_US)
    accounts = {a.user_id: AccountRecord(a) for agent in agents for a in agent.accounts}
    outcome = SeedOutcome(1, T0, end, (end, end), accounts)
    core = RecordingCore()
    World(agents, Admission(CATALOG), core, Recorder(outcome), 6, end).run()
    return core, outcome


def account(name: str = "bot-1", address: str = "ip:bot") -> Account:
    return Account(name, "bot", True, address, f"dev:{name}")


def times(core: RecordingCore, action: str, user: str = "bot-1") -> list[int]:
    return [e.occurred_at_us for e in core.events if e.action_id == action and e.user_id == user]


def test_the_max_rate_farmer_acts_at_each_cooldown_and_sits_at_the_budgets() -> None:
    """Levels exactly 90 s apart while the budget lasts, 1,200 points in its first hour, 6,000 in its day,
    and never a request refused for a cooldown (it knows when each lifts)."""
    core, outcome = drive([strategies.Farmer(account(), CATALOG, T0)], 24)
    levels = times(core, "complete-level")
    assert levels[1] - levels[0] == 90 * SECOND_US
    assert 1150 <= sum(e.points for e in core.events if e.occurred_at_us < T0 + HOUR_US) <= 1200
    assert 5900 <= core.totals["bot-1"] <= 6000
    assert not any("cooldown" in reason for reason in outcome.answers)


def test_the_slow_farmer_stays_under_every_cap_around_the_clock() -> None:
    """Just under the daily budget, far under the hourly one, active in nearly every hour of the day."""
    core, outcome = drive([strategies.SlowFarmer(account(), T0, random.Random(3))], 24)
    assert 5500 <= core.totals["bot-1"] <= 6000
    per_hour = Counter((e.occurred_at_us - T0) // HOUR_US for e in core.events)
    assert max(sum(e.points for e in core.events if (e.occurred_at_us - T0) // HOUR_US == h) for h in per_hour) <= 600
    assert len(per_hour) >= 20
    assert not any(" 429 " in reason for reason in outcome.answers)


def test_the_ticket_hoarder_starts_in_bulk_and_completes_at_exactly_the_minimum_duration() -> None:
    """Ten starts per fight (one issued, nine ticket-open) and each completion exactly 60 s after its start."""
    hoarder = strategies.TicketHoarder(account(), CATALOG, T0)
    core, outcome = drive([hoarder], 6)
    fights = [e for e in core.events if e.action_id == "boss-fight"]
    assert len(fights) >= 10
    assert {e.occurred_at_us - e.ticket_started_at_us for e in fights} == {60 * SECOND_US}
    assert outcome.answers["bot 409 ticket-open"] == 9 * outcome.answers["bot 201 issued"]


def test_a_swarm_is_fifty_accounts_on_one_address_doing_the_same_at_the_same_moments() -> None:
    """Every account's n-th action is the same action, all within 3 s of each other."""
    every = strategies.bot_agents(1, strategies.BotPlan(strategies=(strategies.Strategy("swarm", True, 1, 50),)),
                                  CATALOG, T0, T0 + 4 * HOUR_US)
    first = every[0].accounts[0].address
    agents = [agent for agent in every if agent.accounts[0].address == first]
    members = [a for agent in agents for a in agent.accounts]
    assert len(members) == 50 and len({a.address for a in members}) == 1 and len({a.device for a in members}) == 50
    core, _ = drive(agents, 4)
    sequences = {m.user_id: [(e.action_id, e.occurred_at_us) for e in core.events if e.user_id == m.user_id]
                 for m in members}
    lengths = {len(s) for s in sequences.values()}
    assert len(lengths) == 1 and lengths.pop() > 20
    for step in zip(*sequences.values(), strict=True):
        assert len({action for action, _ in step}) == 1
        assert max(at for _, at in step) - min(at for _, at in step) <= 3 * SECOND_US


def test_the_perfect_timing_script_keeps_a_fixed_period_of_cooldown_plus_tiny_jitter() -> None:
    """Matches every 300.05 to 300.15 s, accepted or not."""
    script = strategies.PerfectTiming(account(), "win-match", 300 * SECOND_US, T0, random.Random(1))
    core, _ = drive([script], 3)
    matches = times(core, "win-match")
    gaps = [b - a for a, b in zip(matches, matches[1:], strict=False)]
    assert len(gaps) >= 30
    assert all(300_050_000 <= gap <= 300_150_000 for gap in gaps)


def test_the_replayer_resends_keys_and_tickets_and_none_of_it_reaches_the_log() -> None:
    """Three replays per completion come back duplicate or ticket-used; no nonce is logged twice."""
    replayer = strategies.Farmer(account(), CATALOG, T0, replays=3)
    core, outcome = drive([replayer], 3)
    assert replayer.replays_sent >= 3 * len(core.events)
    assert outcome.answers["bot 200 duplicate"] >= 3 * len(core.events) - 3
    assert outcome.answers["bot 409 ticket-used"] >= 3
    nonces = [(e.user_id, e.nonce) for e in core.events]
    assert len(nonces) == len(set(nonces))


def test_half_the_instances_start_on_the_second_day() -> None:
    """Bots arrive over the span, some when the population is established."""
    agents = strategies.bot_agents(2, strategies.BotPlan(), CATALOG, T0, T0 + 2 * DAY_US)
    starts = [agent.first_wake_us for agent in agents if agent.accounts[0].group != "swarm"]
    assert sum(1 for s in starts if s >= T0 + DAY_US) == len(starts) // 2
    assert min(starts) >= T0 + 2 * HOUR_US
    assert {a.accounts[0].group for a in agents} == {s.name for s in strategies.STRATEGIES}
