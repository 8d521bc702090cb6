"""The cheats: seven strategies that stay inside the api's rules, each run by several instances.

- ``max_rate_farmer`` (fast): every action again the moment its cooldown lifts, honouring each
  ``Retry-After`` exactly (so it sits at the hourly and daily budgets), a boss ticket started as soon
  as the last one was spent.
- ``hammering_farmer`` (fast): the same, but it retries every refused action once a second instead of
  waiting its ``Retry-After`` (what the farming script of ``scoreboard bench --only abuse`` does).
- ``slow_farmer``: just under every cap, spread evenly over the whole day (a slot every ~29 minutes,
  jittered by up to 30%, around the clock): 9 bosses, 32 matches, 8 levels and the login, 5,855 points
  a UTC day (the daily budget is 6,000, never more than 500 points in an hour).
- ``ticket_hoarder``: boss fights only; starts ten tickets at once (the api issues one), completes at
  exactly the ticket's ``not_before``, and starts the next one so that it comes due the moment the
  cooldown lifts.
- ``swarm`` (fast): 50 fresh accounts on one address, each a max-rate farmer, all started within
  three seconds of each other: the same actions at the same moments, all day.
- ``perfect_timing``: a script on an established account completing one action with a fixed period,
  the action's cooldown plus 50-150 ms, whatever the answers.
- ``replayer`` (fast): a max-rate farmer that re-sends every accepted completion three times with
  the same Idempotency-Key and re-spends every boss ticket under two fresh keys.

Half of each strategy's instances start on the first simulated day (after two hours, so the board
has honest players), half on the second, when the population is established.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bench.simulation.agents import DAY_US, HOUR_US, SECOND_US, Account, Agent, Request, Submit
from bench.simulation.population import BOSS, LEVEL, LOGIN, MATCH
from scoreboard.domain.catalog import Catalog
from scoreboard.domain.ticket_tokens import Ticket


class OneAccount:
    """A bot on one account, first awake at ``start_us``, numbering its Idempotency-Keys itself."""

    def __init__(self, account: Account, start_us: int) -> None:
        self._account = account
        self._start_us = start_us
        self._keys = 0

    @property
    def accounts(self) -> tuple[Account, ...]:
        return (self._account,)

    @property
    def first_wake_us(self) -> int:
        return self._start_us

    def _key(self) -> str:
        self._keys += 1
        return f"{self._account.user_id}.{self._keys:06d}"


class Farmer(OneAccount):
    """Each of ``actions`` again as soon as the api lets it (its cooldown, or the ``Retry-After``)."""

    def __init__(self, account: Account, catalog: Catalog, start_us: int,
                 actions: tuple[str, ...] = (LOGIN, LEVEL, MATCH, BOSS), replays: int = 0,
                 polite: bool = True) -> None:
        self._polite = polite
        """False: retries a refused action every second instead of waiting its ``Retry-After``."""
        super().__init__(account, start_us)
        self._catalog = catalog
        self._ready = dict.fromkeys(actions, start_us)
        self._cool_until = dict.fromkeys(actions, start_us)
        self._ticket: Ticket | None = None
        self._replays = replays
        self.replays_sent = 0

    def wake(self, now_us: int, submit: Submit) -> int | None:
        for action, ready in self._ready.items():
            if ready <= now_us:
                self._ready[action] = self._act(action, now_us, submit)
        return min(self._ready.values())

    def _act(self, action: str, now: int, submit: Submit) -> int:
        user = self._account.user_id
        if action == BOSS and self._ticket is None:
            started = submit(Request(user, BOSS, start=True))
            if started.ticket is None:
                return now + max(1, started.retry_after_s) * SECOND_US
            self._ticket = started.ticket
            return max(self._not_before(started.ticket), self._cool_until[BOSS])
        request = Request(user, action, key=self._key(), ticket=self._ticket if action == BOSS else None)
        answer = submit(request)
        if answer.accepted:
            cooldown = self._cooldown(action)
            self._cool_until[action] = now + cooldown
            self._replay(request, submit)
            if action == BOSS:
                self._ticket = None
                return now + SECOND_US
            return now + max(cooldown, SECOND_US)
        if action == BOSS and answer.reason in ("ticket-used", "ticket-expired"):
            self._ticket = None
        return now + (max(1, answer.retry_after_s) if self._polite else 1) * SECOND_US

    def _replay(self, request: Request, submit: Submit) -> None:
        for _ in range(self._replays):
            submit(request)
            self.replays_sent += 1
            if request.ticket is not None:  # the same ticket under a fresh key
                submit(Request(request.user_id, request.action_id, key=self._key(), ticket=request.ticket))
                self.replays_sent += 1

    def _cooldown(self, action_id: str) -> int:
        action = self._catalog.get(action_id)
        return (action.cooldown_seconds if action else 0) * SECOND_US

    def _not_before(self, ticket: Ticket) -> int:
        action = self._catalog.get(ticket.action_id)
        return ticket.issued_at_us + (action.min_duration_seconds if action else 0) * SECOND_US


class SlowFarmer(OneAccount):
    """A slot every ``DAY / 50`` (jittered), taking the next action of the day's shuffled bag."""

    BAG = (BOSS,) * 9 + (MATCH,) * 32 + (LEVEL,) * 8
    SLOTS_PER_DAY = 50

    def __init__(self, account: Account, start_us: int, rng: random.Random) -> None:
        super().__init__(account, start_us)
        self._rng = rng
        self._bag: list[str] = []
        self._day = -1
        self._pending: Request | None = None

    def wake(self, now_us: int, submit: Submit) -> int | None:
        user = self._account.user_id
        slot = DAY_US // self.SLOTS_PER_DAY
        if self._pending is not None:
            request, self._pending = self._pending, None
            submit(request)
            return now_us + int(slot * self._rng.uniform(0.7, 1.3)) - 90 * SECOND_US
        if now_us // DAY_US != self._day:
            self._day = now_us // DAY_US
            self._bag = list(self.BAG)
            self._rng.shuffle(self._bag)
            submit(Request(user, LOGIN, key=self._key()))
        action = self._bag.pop() if self._bag else LEVEL
        if action == BOSS:
            started = submit(Request(user, BOSS, start=True))
            if started.ticket is not None:
                self._pending = Request(user, BOSS, key=self._key(), ticket=started.ticket)
                return now_us + int(self._rng.uniform(65, 100) * SECOND_US)
            action = MATCH
        submit(Request(user, action, key=self._key()))
        return now_us + int(slot * self._rng.uniform(0.7, 1.3))


class TicketHoarder(OneAccount):
    """Boss fights only: ten starts at once, the completion at exactly ``not_before``."""

    BULK = 10

    def __init__(self, account: Account, catalog: Catalog, start_us: int) -> None:
        boss = catalog.get(BOSS)
        assert boss is not None
        super().__init__(account, start_us)
        self._min_us = boss.min_duration_seconds * SECOND_US
        self._cooldown_us = boss.cooldown_seconds * SECOND_US
        self._ticket: Ticket | None = None
        self._day = -1
        self.starts_sent = 0

    def wake(self, now_us: int, submit: Submit) -> int | None:
        user = self._account.user_id
        if now_us // DAY_US != self._day:
            self._day = now_us // DAY_US
            submit(Request(user, LOGIN, key=self._key()))
        if self._ticket is None:
            wait = 0
            for _ in range(self.BULK):
                self.starts_sent += 1
                answer = submit(Request(user, BOSS, start=True))
                if answer.ticket is not None:
                    self._ticket = answer.ticket
                wait = max(wait, answer.retry_after_s)
            if self._ticket is None:
                return now_us + max(1, wait) * SECOND_US
            return self._ticket.issued_at_us + self._min_us
        ticket, self._ticket = self._ticket, None
        answer = submit(Request(user, BOSS, key=self._key(), ticket=ticket))
        if answer.accepted:  # the next ticket comes due the moment the cooldown lifts
            return now_us + self._cooldown_us - self._min_us + 1000
        return now_us + max(1, answer.retry_after_s) * SECOND_US


class PerfectTiming(OneAccount):
    """One action with a fixed period (its cooldown plus 50-150 ms), whatever the answers."""

    def __init__(self, account: Account, action_id: str, period_us: int, start_us: int, rng: random.Random) -> None:
        super().__init__(account, start_us)
        self._action_id = action_id
        self._period_us = period_us
        self._rng = rng

    def wake(self, now_us: int, submit: Submit) -> int | None:
        submit(Request(self._account.user_id, self._action_id, key=self._key()))
        return now_us + self._period_us + int(self._rng.uniform(0.05, 0.15) * SECOND_US)


@dataclass(frozen=True)
class Strategy:
    name: str
    fast: bool
    """Flagged within 60 s is a target for it (it earns at the budget from its first minute)."""
    instances: int
    accounts_per_instance: int = 1


STRATEGIES = (
    Strategy("max_rate_farmer", True, 6),
    Strategy("hammering_farmer", True, 6),
    Strategy("slow_farmer", False, 6),
    Strategy("ticket_hoarder", False, 6),
    Strategy("swarm", True, 2, 50),
    Strategy("perfect_timing", False, 6),
    Strategy("replayer", True, 6),
)


@dataclass(frozen=True)
class BotPlan:
    strategies: tuple[Strategy, ...] = STRATEGIES
    scale: float = 1.0
    """Multiplies instances and swarm sizes (a quick run uses less)."""


def bot_agents(seed: int, plan: BotPlan, catalog: Catalog, start_us: int, end_us: int) -> list[Agent]:
    """Every bot agent of one seed (a swarm is one agent per account, started within 3 s)."""
    rng = random.Random(f"bots:{seed}")
    span_h = (end_us - start_us) / HOUR_US
    agents: list[Agent] = []
    number = 0
    for strategy in plan.strategies:
        instances = max(2, round(strategy.instances * plan.scale))
        size = max(5, round(strategy.accounts_per_instance * plan.scale)) if strategy.accounts_per_instance > 1 else 1
        for instance in range(instances):
            half = span_h / 2
            low, high = (2.0, max(half - 1, 3.0)) if instance % 2 == 0 else (half, max(span_h - 3, half + 1))
            start = start_us + int(rng.uniform(low, high) * HOUR_US)
            address = f"bot:{seed}:{strategy.name}:{instance}"
            for k in range(size):
                number += 1
                known = start_us - int(rng.uniform(30, 300) * DAY_US) if strategy.name == "perfect_timing" else 0
                account = Account(f"p{seed}-{90000 + number:05d}", strategy.name, True,
                                  address if strategy.name == "swarm" else f"{address}:{k}",
                                  f"bot-dev:{seed}:{number}", known)
                agents.append(_build(strategy.name, account, catalog, start + (k * 3 * SECOND_US) // max(size, 1),
                                     random.Random(f"bot:{seed}:{number}"), instance))
    return agents


def _build(name: str, account: Account, catalog: Catalog, start_us: int, rng: random.Random, instance: int) -> Agent:
    builders: dict[str, Callable[[], Agent]] = {
        "max_rate_farmer": lambda: Farmer(account, catalog, start_us),
        "hammering_farmer": lambda: Farmer(account, catalog, start_us, polite=False),
        "slow_farmer": lambda: SlowFarmer(account, start_us, rng),
        "ticket_hoarder": lambda: TicketHoarder(account, catalog, start_us),
        "swarm": lambda: Farmer(account, catalog, start_us),
        "perfect_timing": lambda: _perfect(account, catalog, start_us, rng, instance),
        "replayer": lambda: Farmer(account, catalog, start_us, replays=3),
    }
    return builders[name]()


def _perfect(account: Account, catalog: Catalog, start_us: int, rng: random.Random, instance: int) -> Agent:
    action_id = MATCH if instance % 2 == 0 else LEVEL
    action = catalog.get(action_id)
    period = (action.cooldown_seconds if action else 300) * SECOND_US
    return PerfectTiming(account, action_id, period, start_us, rng)
