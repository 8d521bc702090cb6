"""The cheat simulation: honest players and six bot strategies against the worker's own pure code.

Hours of simulated play cannot run in real time, so this runs in **virtual time**: a deterministic
discrete-event loop (``engine``) over simulated UTC microseconds, seeded, in which

- honest players (``population``: human pacing, time of day, the suspicious-looking honest groups)
  and bots (``bots``: six strategies, several instances each) send requests;
- a model of the api (``admission``: rate limits, Idempotency-Keys, tickets, cooldowns, caps,
  budgets) answers them and appends accepted completions to their user's partition;
- the worker's pure code applies each record (``core``): ``scoreboard.domain.policy.Judge`` with the
  shipped catalog, then ``scoreboard.domain.detection.PartitionDetectors`` (one per partition, with
  the catalog's ``[detection]`` table), and the review that hides a flagged user;
- the recorder (``metrics``) watches the public all-time board after every change.

``run()`` returns a JSON-able dict (``table.render`` turns it into the markdown of docs/anti-cheat.md).
It is part of ``scoreboard bench --only abuse`` and runs on its own: ``python -m bench.simulation``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bench.simulation.admission import Admission
from bench.simulation.agents import DAY_US, HOUR_US, Agent
from bench.simulation.bots import BotPlan, bot_agents
from bench.simulation.core import DetectionKit, LedgerCore, load_detection
from bench.simulation.engine import World
from bench.simulation.metrics import AccountRecord, Recorder, SeedOutcome, per_seed, summarise
from bench.simulation.population import Clock, PopulationPlan, honest_agents
from bench.simulation.table import render
from scoreboard.domain.catalog import Catalogs, load_catalogs
from scoreboard.domain.detectors.counters import CounterDetection
from scoreboard.domain.policy import Judge
from scoreboard.domain.topics import ACTIONS, TOPICS

__all__ = ["SimulationPlan", "render", "run", "simulate_seed"]

START_US = int(datetime(2026, 12, 7, tzinfo=UTC).timestamp() * 1_000_000)
ACTIONS_PARTITIONS = next(spec.partitions for spec in TOPICS if spec.name == ACTIONS)
"""The partition count the stack provisions for the actions topic (``scoreboard.domain.topics``)."""


@dataclass(frozen=True)
class SimulationPlan:
    seeds: tuple[int, ...] = (1, 2, 3)
    days: float = 2.0
    population: PopulationPlan = field(default_factory=PopulationPlan)
    bots: BotPlan = field(default_factory=BotPlan)
    partitions: int = ACTIONS_PARTITIONS
    start_us: int = START_US

    @classmethod
    def quick(cls) -> SimulationPlan:
        """One seed, one day, 400 players, fewer and smaller bot groups: a smoke run of a few seconds."""
        return cls(seeds=(1,), days=1.0, population=PopulationPlan(users=400, nat_users=40, surge_start_h=19.0),
                   bots=BotPlan(scale=0.4))

    @property
    def end_us(self) -> int:
        return self.start_us + int(self.days * DAY_US)


def simulate_seed(seed: int, plan: SimulationPlan, kit: DetectionKit) -> SeedOutcome:
    """One world: its population and bots from ``seed``, run to the end of the span."""
    catalogs = load_catalogs()
    # The counter detectors (prober, tireless) are judged with the same [detection] table as the others.
    counters = replace(catalogs.current, counter_detection=CounterDetection.from_mapping(kit.config))
    catalogs = Catalogs(counters, {**catalogs.by_version, counters.version: counters})
    clock = Clock(plan.start_us, plan.end_us, plan.population)
    agents: list[Agent] = [*honest_agents(seed, plan.population, clock),
                           *bot_agents(seed, plan.bots, catalogs.current, plan.start_us, plan.end_us)]
    accounts = {a.user_id: AccountRecord(a) for agent in agents for a in agent.accounts}
    outcome = SeedOutcome(seed, plan.start_us, plan.end_us, (clock.surge_from_us, clock.surge_to_us), accounts)
    core = LedgerCore(Judge(catalogs, max_skew_us=HOUR_US), kit)
    World(agents, Admission(catalogs.current), core, Recorder(outcome), plan.partitions, plan.end_us).run()
    outcome.observe_ns, outcome.observations = core.observe_ns, core.observations
    return outcome


def run(plan: SimulationPlan | None = None, *, quick: bool = False, seeds: Sequence[int] | None = None,
        detection: Mapping[str, Any] | None = None, kit: DetectionKit | None = None,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Simulate every seed and summarise. ``detection`` replaces the catalog's ``[detection]`` table;
    ``kit`` replaces the detector module itself (tests)."""
    plan = plan or (SimulationPlan.quick() if quick else SimulationPlan())
    if seeds is not None:
        plan = replace(plan, seeds=tuple(seeds))
    kit = kit or load_detection(detection)
    started = time.monotonic()
    outcomes = []
    for seed in plan.seeds:
        if progress:
            progress(f"simulation: seed {seed} ({plan.population.users:,} players, {plan.days:g} days)")
        outcomes.append(simulate_seed(seed, plan, kit))
    fast = [s.name for s in plan.bots.strategies if s.fast]
    found = summarise(outcomes, fast)
    return {
        "model": {
            "virtual_time": True, "seeds": list(plan.seeds), "days": plan.days,
            "start": datetime.fromtimestamp(plan.start_us / 1e6, UTC).isoformat(),
            "honest_users_per_seed": plan.population.users, "partitions": plan.partitions,
            "catalog_version": load_catalogs().current.version, "population": asdict(plan.population),
            "bots": {s.name: {"instances": max(2, round(s.instances * plan.bots.scale)),
                              "accounts_per_instance": s.accounts_per_instance if s.accounts_per_instance == 1
                              else max(5, round(s.accounts_per_instance * plan.bots.scale)), "fast": s.fast}
                     for s in plan.bots.strategies},
            "detection": {"source": kit.source, "config": dict(kit.config)},
        },
        **found,
        "per_seed": [per_seed(o, fast) for o in outcomes],
        "wall_seconds": round(time.monotonic() - started, 1),
    }
