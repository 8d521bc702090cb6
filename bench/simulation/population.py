"""The honest players: human pacing, time of day, and the honest users that look suspicious.

Pacing follows the measurements summarised in ``/work/shared/anticheat-notes.md`` ("Human pacing"):

- sessions start as a Poisson process modulated by the time of day (a peak in the evening around
  20:00 UTC, shifted per user by a few hours, a trough of a quarter of the peak in the morning), at a
  per-user rate that is itself heavy-tailed (log-normal across users);
- session lengths are Weibull with shape 0.6 (many short sessions, a long tail);
- inside a session a player does one activity after another: a level (log-normal, median 160 s), a
  match (median 480 s) or a boss fight (60 s plus a log-normal, through a ticket), each followed by a
  log-normal pause (median 25 s, heavy upper tail); completions that come too soon are refused by the
  api like anyone's, and the player just goes on.

The suspicious-looking honest groups: ``nat`` (200 users behind one carrier-NAT address, otherwise
ordinary; a fifth of them are newcomers, fresh accounts on one address like a swarm's), ``grinder``
(the most active 0.1%: six long sessions a day, quick, near the caps), ``newcomer`` (10% join during
the span; their first 24 hours have four times the sessions, each half as long again) and a
population-wide surge (an event hour in which everyone starts sessions at twice the rate). Every user
has a device of their own; the NAT group shares one address.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from bench.simulation.agents import DAY_US, HOUR_US, MINUTE_US, SECOND_US, Account, Answer, Request, Submit

LEVEL, MATCH, BOSS, LOGIN = "complete-level", "win-match", "boss-fight", "daily-login"
ACTIVITIES = ((LEVEL, 0.55), (MATCH, 0.35), (BOSS, 0.10))
SESSION_SHAPE = 0.6


@dataclass(frozen=True)
class PopulationPlan:
    users: int = 3000
    nat_users: int = 200
    grinder_share: float = 0.001
    newcomer_share: float = 0.10
    surge_start_h: float = 43.0
    """Hours after the start; the default is 19:00 UTC on the second day."""
    surge_hours: float = 1.0
    surge_factor: float = 2.0


@dataclass(frozen=True)
class Habits:
    """One player's parameters."""

    sessions_per_day: float
    session_scale_s: float
    pace: float
    """Multiplies every activity's duration (below 1: quicker than most)."""
    peak_hour: float
    joins_at_us: int = 0
    """A newcomer's first moment (0: an established player)."""


class Clock:
    """The span and its event hour."""

    def __init__(self, start_us: int, end_us: int, plan: PopulationPlan) -> None:
        self.start_us = start_us
        self.end_us = end_us
        self.surge_from_us = start_us + int(plan.surge_start_h * HOUR_US)
        self.surge_to_us = self.surge_from_us + int(plan.surge_hours * HOUR_US)
        self.surge_factor = plan.surge_factor

    def surge(self, at_us: int) -> float:
        return self.surge_factor if self.surge_from_us <= at_us < self.surge_to_us else 1.0


def diurnal(at_us: int, peak_hour: float) -> float:
    """Relative activity at this moment, 0.25 (trough) to 1 (peak); its daily mean is 0.625."""
    hour = (at_us % DAY_US) / HOUR_US
    return 0.25 + 0.75 * (1 + math.cos(2 * math.pi * (hour - peak_hour) / 24)) / 2


def sessions(rng: random.Random, habits: Habits, clock: Clock) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) sessions by thinning a Poisson process at the peak rate."""
    newcomer_until = habits.joins_at_us + DAY_US if habits.joins_at_us else 0
    base_per_us = habits.sessions_per_day / 0.625 / DAY_US
    most = base_per_us * max(clock.surge_factor, 1.0) * (4.0 if habits.joins_at_us else 1.0)
    found: list[tuple[int, int]] = []
    at = habits.joins_at_us or clock.start_us
    if habits.joins_at_us:  # a newcomer plays right after signing up
        found.append((at, at + _session_length(rng, habits.session_scale_s * 1.5)))
    while True:
        at += int(rng.expovariate(most))
        if at >= clock.end_us:
            return found
        boost = 4.0 if at < newcomer_until else 1.0
        if rng.random() * most > base_per_us * diurnal(at, habits.peak_hour) * clock.surge(at) * boost:
            continue
        if found and at < found[-1][1]:
            continue
        scale = habits.session_scale_s * (1.5 if at < newcomer_until else 1.0)
        found.append((at, at + _session_length(rng, scale)))


def _session_length(rng: random.Random, scale_s: float) -> int:
    return int(min(rng.weibullvariate(scale_s, SESSION_SHAPE), 6 * 3600.0) * SECOND_US) + MINUTE_US


class Human:
    """One honest player as an agent: sessions of activities, a daily login at the day's first session."""

    def __init__(self, account: Account, habits: Habits, rng: random.Random, clock: Clock) -> None:
        self._account = account
        self._habits = habits
        self._rng = rng
        self._sessions = sessions(rng, habits, clock)
        self._index = 0
        self._pending: Request | None = None
        self._login_day = -1
        self._keys = 0

    @property
    def accounts(self) -> tuple[Account, ...]:
        return (self._account,)

    @property
    def first_wake_us(self) -> int:
        return self._sessions[0][0] if self._sessions else -1

    def wake(self, now_us: int, submit: Submit) -> int | None:
        if self._pending is not None:
            request, self._pending = self._pending, None
            done = submit(request)
            if done.reason in ("ticket-too-early", "rate-limited"):
                self._pending = request
                return now_us + done.retry_after_s * SECOND_US
            return now_us + self._pause()
        while self._index < len(self._sessions) and now_us >= self._sessions[self._index][1]:
            self._index += 1
        if self._index == len(self._sessions):
            return None
        start, _ = self._sessions[self._index]
        if now_us < start:
            return start
        user = self._account.user_id
        if now_us // DAY_US != self._login_day:
            self._login_day = now_us // DAY_US
            submit(Request(user, LOGIN, key=self._key()))
        action = self._rng.choices([a for a, _ in ACTIVITIES], [w for _, w in ACTIVITIES])[0]
        answer: Answer | None = None
        if action == BOSS:
            answer = submit(Request(user, BOSS, start=True))
            if answer.ticket is None:
                action = LEVEL
        self._pending = Request(user, action, key=self._key(), ticket=answer.ticket if answer else None)
        return now_us + self._duration(action)

    def _duration(self, action: str) -> int:
        rng, pace = self._rng, self._habits.pace
        if action == LEVEL:
            seconds = rng.lognormvariate(math.log(160), 0.4) * pace
        elif action == MATCH:
            seconds = rng.lognormvariate(math.log(480), 0.35) * pace
        else:
            seconds = 60 + rng.lognormvariate(math.log(90), 0.6) * pace
        return int(seconds * SECOND_US)

    def _pause(self) -> int:
        return int(self._rng.lognormvariate(math.log(25), 1.0) * SECOND_US)

    def _key(self) -> str:
        self._keys += 1
        return f"{self._account.user_id}.{self._keys:06d}"


def honest_agents(seed: int, plan: PopulationPlan, clock: Clock) -> list[Human]:
    """The honest players of one seed: grinders, the NAT group, newcomers, then regular players."""
    rng = random.Random(f"population:{seed}")
    grinders = max(1, round(plan.users * plan.grinder_share))
    nat = min(plan.nat_users, plan.users - grinders)
    newcomers = min(round(plan.users * plan.newcomer_share), plan.users - grinders - nat)
    span_us = clock.end_us - clock.start_us
    humans = []
    for i in range(plan.users):
        user = f"p{seed}-{i:05d}"
        own = random.Random(f"human:{seed}:{i}")
        peak = 20 + rng.gauss(0, 3)
        known = clock.start_us - int(rng.uniform(7, 400) * DAY_US)
        if i < grinders:
            group, habits = "grinder", Habits(6.0, 100 * 60, 0.85, peak)
        elif i < grinders + nat:  # the carrier's newest fifth signed up during the span
            fresh = i - grinders >= nat - nat // 5
            joins = clock.start_us + int(rng.uniform(0, max(span_us - 4 * HOUR_US, HOUR_US))) if fresh else 0
            group, habits, known = "nat", _regular(rng, peak, joins), 0 if fresh else known
        elif i < grinders + nat + newcomers:
            joins = clock.start_us + int(rng.uniform(0, max(span_us - 4 * HOUR_US, HOUR_US)))
            group, habits, known = "newcomer", _regular(rng, peak, joins), 0
        else:
            group, habits = "regular", _regular(rng, peak)
        address = f"ip:{seed}:nat" if group == "nat" else f"ip:{seed}:{i}"
        account = Account(user, group, False, address, f"dev:{seed}:{i}", known)
        humans.append(Human(account, habits, own, clock))
    return humans


def _regular(rng: random.Random, peak: float, joins_at_us: int = 0) -> Habits:
    per_day = min(max(rng.lognormvariate(math.log(0.9), 0.7), 0.05), 8.0)
    return Habits(per_day, 20 * 60, rng.lognormvariate(0, 0.15), peak, joins_at_us)
