"""What one simulated world records, and the summary over seeds the report shows.

The recorder watches every answer and every applied record. The public board is checked after every
change to it (each counted action, each user hidden by a review): a bot in its top 10 at that moment
counts as "ever in the public top 10"; a bot's best rank is taken after each of its own counted
actions and after each user hidden above it (the only moments its rank can improve).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.simulation.agents import HOUR_US, SECOND_US, Account, Answer, Request
from bench.simulation.board import Board
from bench.simulation.core import Applied
from bench.simulation.stats import clopper_pearson_upper, median
from scoreboard.domain.events import ActionCompleted

TOP = 10
FAST_FLAG_S = 60.0
HONEST_FP_TARGET = 0.001


@dataclass
class AccountRecord:
    account: Account
    first_request_us: int = -1
    accepted: int = 0
    points_counted: int = 0
    points_held: int = 0
    flagged_at_us: int = -1
    detector: str = ""
    shadow_detectors: set[str] = field(default_factory=set)
    best_rank: int | None = None
    top10_at_us: int = -1

    @property
    def flagged(self) -> bool:
        return self.flagged_at_us >= 0

    def seconds_to_flag(self) -> float | None:
        if not self.flagged:
            return None
        return max(0, self.flagged_at_us - self.first_request_us) / SECOND_US


@dataclass
class SeedOutcome:
    seed: int
    start_us: int
    end_us: int
    surge: tuple[int, int]
    accounts: dict[str, AccountRecord]
    answers: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    flags: Counter[tuple[str, bool, bool]] = field(default_factory=Counter)
    """(detector, shadow, bot) -> flags raised."""
    flagged_users: dict[tuple[str, bool], set[str]] = field(default_factory=dict)
    """(detector, shadow) -> users it flagged."""
    reviews_by_hour: Counter[int] = field(default_factory=Counter)
    observe_ns: int = 0
    observations: int = 0


class Recorder:
    def __init__(self, outcome: SeedOutcome) -> None:
        self.outcome = outcome
        self.board = Board()
        self._bots = {user for user, record in outcome.accounts.items() if record.account.bot}

    def answered(self, request: Request, answer: Answer, now_us: int) -> None:
        record = self.outcome.accounts[request.user_id]
        if record.first_request_us < 0:
            record.first_request_us = now_us
        kind = "bot" if record.account.bot else "honest"
        self.outcome.answers[f"{kind} {answer.status} {answer.reason}"] += 1

    def applied(self, event: ActionCompleted, applied: Applied) -> None:
        outcome = self.outcome
        outcome.events["records"] += 1
        if not applied.accepted:
            outcome.events[f"worker {applied.reason.split(':')[0]}"] += 1
            return
        outcome.events[applied.reason] += 1
        record = outcome.accounts[event.user_id]
        record.accepted += 1
        if applied.held:
            record.points_held += event.points
        else:
            record.points_counted += event.points
        for flag in applied.flags:
            bot = flag.user_id in self._bots
            outcome.flags[(flag.detector, flag.shadow, bot)] += 1
            outcome.flagged_users.setdefault((flag.detector, flag.shadow), set()).add(flag.user_id)
            if flag.shadow and flag.user_id in outcome.accounts:
                outcome.accounts[flag.user_id].shadow_detectors.add(flag.detector)
        review = applied.review
        if review is not None and review.holding and review.user_id in outcome.accounts:
            flagged = outcome.accounts[review.user_id]
            flagged.flagged_at_us, flagged.detector = review.at_us, review.detector
            outcome.reviews_by_hour[(review.at_us - outcome.start_us) // HOUR_US] += 1
            above = self.board.rank(review.user_id)
            self.board.hide(review.user_id)
            if above is not None:
                self._rerank_bots()
        if not applied.held and not (review is not None and review.holding and review.user_id == event.user_id):
            rank = self.board.show(event.user_id, applied.score_after, event.occurred_at_us)
            if event.user_id in self._bots:
                _better(record, rank)
        self._check_top(event.occurred_at_us)

    def _rerank_bots(self) -> None:
        for user in self._bots:
            rank = self.board.rank(user)
            if rank is not None:
                _better(self.outcome.accounts[user], rank)

    def _check_top(self, now_us: int) -> None:
        for user in self.board.top(TOP):
            if user in self._bots:
                record = self.outcome.accounts[user]
                if record.top10_at_us < 0:
                    record.top10_at_us = now_us


def _better(record: AccountRecord, rank: int) -> None:
    if record.best_rank is None or rank < record.best_rank:
        record.best_rank = rank


# ---------------------------------------------------------------- the summary over seeds


def summarise(outcomes: Sequence[SeedOutcome], fast: Iterable[str]) -> dict[str, Any]:
    """The JSON-able result: per strategy, honest users by group, flags, load, events, cost, targets."""
    records = [r for o in outcomes for r in o.accounts.values()]
    fast = set(fast)
    strategies = _strategies([r for r in records if r.account.bot], fast)
    honest = _honest([r for r in records if not r.account.bot and r.accepted > 0], outcomes)
    flags = _flags(outcomes, records)
    observations = sum(o.observations for o in outcomes)
    events = Counter[str]()
    answers = Counter[str]()
    for o in outcomes:
        events.update(o.events)
        answers.update(o.answers)
    cost = {"observations": observations,
            "mean_us_per_observe": round(sum(o.observe_ns for o in outcomes) / observations / 1000, 2)
            if observations else None}
    fast_rows = [row for name, row in strategies.items() if name in fast]
    targets = {
        "no_bot_in_public_top10": not any(row["ever_in_top10"] for row in strategies.values()),
        "fast_strategies_flagged_within_60s": all(
            row["flagged"] == row["accounts"] and row["time_to_flag_s"]["max"] is not None
            and row["time_to_flag_s"]["max"] <= FAST_FLAG_S for row in fast_rows),
        "honest_false_positives_at_most_0.1pct": honest["rate"] <= HONEST_FP_TARGET,
        "honest_false_positive_bound_at_most_0.1pct": honest["upper95"] <= HONEST_FP_TARGET,
    }
    return {"strategies": strategies, "honest": honest, "flags": flags,
            "events": {"requests": sum(answers.values()), **dict(sorted(events.items()))},
            "answers": dict(sorted(answers.items())), "detector_cost": cost, "targets": targets}


def _strategies(records: Sequence[AccountRecord], fast: set[str]) -> dict[str, Any]:
    by_name: dict[str, list[AccountRecord]] = {}
    for record in records:
        by_name.setdefault(record.account.group, []).append(record)
    found = {}
    for name, group in by_name.items():
        times = [t for r in group if (t := r.seconds_to_flag()) is not None]
        ranks = [r.best_rank for r in group if r.best_rank is not None]
        points = sum(r.points_counted for r in group)
        found[name] = {
            "fast": name in fast,
            "accounts": len(group),
            "flagged": len(times),
            "time_to_flag_s": {"median": _round(median(times)), "max": _round(max(times) if times else None)},
            "points_before_flag": {"sum": points, "per_account": round(points / len(group), 1)},
            "points_never_flagged": sum(r.points_counted for r in group if not r.flagged),
            "points_held": sum(r.points_held for r in group),
            "best_rank": min(ranks) if ranks else None,
            "ever_in_top10": any(r.top10_at_us >= 0 for r in group),
            "accounts_in_top10": sum(1 for r in group if r.top10_at_us >= 0),
            "by_detector": dict(sorted(Counter(r.detector for r in group if r.flagged).items())),
        }
    return dict(sorted(found.items()))


def _honest(records: Sequence[AccountRecord], outcomes: Sequence[SeedOutcome]) -> dict[str, Any]:
    def rates(group: Sequence[AccountRecord]) -> dict[str, Any]:
        flagged = sum(1 for r in group if r.flagged)
        n = len(group)
        return {"users": n, "flagged": flagged, "rate": round(flagged / n, 6) if n else 0.0,
                "upper95": round(clopper_pearson_upper(flagged, n), 6),
                "shadow_flagged": sum(1 for r in group if r.shadow_detectors and not r.flagged)}

    groups: dict[str, list[AccountRecord]] = {}
    for record in records:
        groups.setdefault(record.account.group, []).append(record)
    in_surge = sum(1 for o in outcomes for r in o.accounts.values()
                   if not r.account.bot and r.flagged and o.surge[0] <= r.flagged_at_us < o.surge[1])
    by_detector = Counter(r.detector for r in records if r.flagged)
    return {**rates(records), "groups": {name: rates(g) for name, g in sorted(groups.items())},
            "flagged_during_surge_hour": in_surge, "by_detector": dict(sorted(by_detector.items()))}


def _flags(outcomes: Sequence[SeedOutcome], records: Sequence[AccountRecord]) -> dict[str, Any]:
    flagged = [r for r in records if r.flagged]
    bots = sum(1 for r in flagged if r.account.bot)
    hours = sum((o.end_us - o.start_us) / HOUR_US for o in outcomes)
    peak = max((n for o in outcomes for n in o.reviews_by_hour.values()), default=0)
    detectors: dict[str, dict[str, int]] = {}
    for o in outcomes:
        for (detector, shadow, bot), n in o.flags.items():
            row = detectors.setdefault(f"{detector}{' (shadow)' if shadow else ''}", Counter())
            row["flags_on_bots" if bot else "flags_on_honest"] += n
        for (detector, shadow), users in o.flagged_users.items():
            row = detectors.setdefault(f"{detector}{' (shadow)' if shadow else ''}", Counter())
            row["bots"] += sum(1 for u in users if o.accounts[u].account.bot)
            row["honest"] += sum(1 for u in users if not o.accounts[u].account.bot)
    return {
        "reviews": len(flagged), "reviews_of_bots": bots,
        "precision": round(bots / len(flagged), 4) if flagged else None,
        "reviews_per_hour": {"mean": round(len(flagged) / hours, 2) if hours else 0.0, "peak": peak},
        "by_detector": {name: dict(sorted(row.items())) for name, row in sorted(detectors.items())},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def per_seed(outcome: SeedOutcome, fast: Iterable[str]) -> dict[str, Any]:
    """A compact line per seed (bots ever in the top 10, honest flagged, records)."""
    found = summarise([outcome], fast)
    return {"seed": outcome.seed, "honest_flagged": found["honest"]["flagged"],
            "honest_users": found["honest"]["users"],
            "bots_flagged": sum(row["flagged"] for row in found["strategies"].values()),
            "bots": sum(row["accounts"] for row in found["strategies"].values()),
            "strategies_in_top10": sorted(n for n, row in found["strategies"].items() if row["ever_in_top10"]),
            "records": found["events"].get("records", 0), "targets": found["targets"]}
