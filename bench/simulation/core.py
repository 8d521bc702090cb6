"""The worker's side of the simulation behind a small protocol: apply one log record, get accepted or
rejected, and the flags it raised.

``LedgerCore`` reproduces what ``scoreboard.domain.scoring.apply_log`` does with an action, using the
same pure parts: a (user, nonce) seen before is a duplicate; ``policy.Judge`` with the shipped
catalog judges cooldowns, caps and budgets from the usage counters; an accepted action is shown to its
partition's detectors (``scoreboard.domain.detection.PartitionDetectors``, fed in log order, and the
counter detectors ``prober`` and ``tireless`` through ``scoring.counter_flags``); a flag
puts the user under review as ``scoreboard.domain.moderation.raise_flags`` does (holding flags first,
one review change per record; a pending holding review is not raised again, a shadow one can be
superseded). A holding review hides the user on every board from that moment; the action that
raised it is counted, the user's later actions are held (``total_after`` leaves them out). There is
no moderator in the simulation, so no review is ever decided.

The protocol is small so that the real ledger core can replace this one later.
"""

from __future__ import annotations

import importlib
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from scoreboard.domain.catalog import DEFAULT_CATALOG
from scoreboard.domain.detectors.counters import HOURS_COUNTER
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.policy import Judge, Usage, UsageKey
from scoreboard.domain.records import LedgerEntry
from scoreboard.domain.scoring import counter_flags

DETECTION_MODULES = ("scoreboard.domain.detection", "scoreboard.domain.detectors")
COUNTER_DETECTORS = ("prober", "tireless")
"""Configured in the same table, judged by ``scoring.counter_flags`` (``scoreboard.domain.detectors.counters``)."""


class FlagLike(Protocol):
    """``scoreboard.domain.detection.Flag``."""

    @property
    def user_id(self) -> str: ...
    @property
    def detector(self) -> str: ...
    @property
    def at_us(self) -> int: ...
    @property
    def hold_from_us(self) -> int: ...
    @property
    def shadow(self) -> bool: ...
    @property
    def evidence(self) -> Mapping[str, Any]: ...


class Detecting(Protocol):
    """``scoreboard.domain.detection.PartitionDetectors``."""

    def observe(self, observation: Any) -> Sequence[FlagLike]: ...


@dataclass(frozen=True)
class DetectionKit:
    """How to build an ``Observation`` and one partition's detectors; the real module or a stand-in."""

    observation: Callable[..., Any]
    detectors: Callable[[], Detecting]
    source: str
    config: Mapping[str, Any] = field(default_factory=dict)


def catalog_detection_table(path: str | None = None) -> dict[str, Any]:
    """The ``[detection]`` table of the shipped catalog TOML (empty if it has none)."""
    with open(path or DEFAULT_CATALOG, "rb") as file:
        table = tomllib.load(file).get("detection", {})
    return dict(table) if isinstance(table, dict) else {}


def load_detection(table: Mapping[str, Any] | None = None) -> DetectionKit:
    """The stream app's detectors with ``table`` (default: the catalog's ``[detection]`` table)."""
    for name in DETECTION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        chosen = catalog_detection_table() if table is None else dict(table)
        chosen.pop("enabled", None)
        windowed = {k: v for k, v in chosen.items() if k not in COUNTER_DETECTORS}
        config = module.DetectionConfig.from_mapping(windowed)
        return DetectionKit(module.Observation, partial(module.PartitionDetectors, config), name, chosen)
    raise ModuleNotFoundError(f"none of {', '.join(DETECTION_MODULES)} exists yet: the detectors are not written")


@dataclass(frozen=True)
class Review:
    """A user put under review by a flag (``holding`` unless the detector runs in shadow mode)."""

    user_id: str
    detector: str
    at_us: int
    holding: bool


@dataclass(frozen=True)
class Applied:
    accepted: bool
    reason: str
    """``counted``, ``held``, ``duplicate``, or the judge's rejection reason."""
    score_after: int
    flags: tuple[FlagLike, ...] = ()
    review: Review | None = None
    """The review this record raised, if any (at most one per record, as in the worker)."""

    @property
    def held(self) -> bool:
        return self.reason == "held"


class SimCore(Protocol):
    def apply(self, event: ActionCompleted, partition: int, offset: int, known_since_us: int = 0) -> Applied:
        """Apply one record of the actions log (records of one partition in offset order)."""
        ...


class LedgerCore:
    """The judge, the ledger's totals and nonces, one detector set per partition, and the reviews."""

    def __init__(self, judge: Judge, kit: DetectionKit) -> None:
        self._judge = judge
        self._kit = kit
        self._detectors: dict[int, Detecting] = {}
        self._usage: dict[UsageKey, Usage] = {}
        self._nonces: set[tuple[str, str]] = set()
        self._totals: dict[str, int] = {}
        self._first_seen: dict[str, int] = {}
        self.reviews: dict[str, Review] = {}
        self.observe_ns = 0
        self.observations = 0

    def holding(self, user_id: str) -> bool:
        review = self.reviews.get(user_id)
        return review is not None and review.holding

    def apply(self, event: ActionCompleted, partition: int, offset: int, known_since_us: int = 0) -> Applied:
        user = event.user_id
        if (user, event.nonce) in self._nonces:
            return Applied(False, "duplicate", self._totals.get(user, 0))
        verdict = self._judge.judge(event, self._usage.get)
        if verdict.reason:
            return Applied(False, verdict.reason, self._totals.get(user, 0))
        self._nonces.add((user, event.nonce))
        self._usage.update(verdict.usage)
        held = self.holding(user)
        total = self._totals.get(user, 0) + (0 if held else event.points)
        self._totals[user] = total
        first_seen = self._first_seen.setdefault(user, known_since_us or event.occurred_at_us)
        detectors = self._detectors.get(partition)
        if detectors is None:
            detectors = self._detectors[partition] = self._kit.detectors()
        observation = self._kit.observation(
            partition, offset, user, event.action_id, event.points, event.occurred_at_us, total, first_seen,
            event.client_hash, event.device_hash, event.ticket_started_at_us)
        started = time.perf_counter_ns()
        flags = tuple(detectors.observe(observation))
        counters = self._judge.counter_detection
        if counters is not None:
            entry = LedgerEntry(event.event_id, user, event.nonce, event.action_id, event.points,
                                event.catalog_version, event.occurred_at_us, partition, offset, total,
                                refused_before=event.refused_before)
            flags += tuple(counter_flags(counters, entry, self._usage.get((user, HOURS_COUNTER))))
        self.observe_ns += time.perf_counter_ns() - started
        self.observations += 1
        return Applied(True, "held" if held else "counted", total, flags, self._raise(flags))

    def _raise(self, flags: Sequence[FlagLike]) -> Review | None:
        for flag in sorted(flags, key=lambda f: (f.shadow, f.detector)):
            current = self.reviews.get(flag.user_id)
            if current is not None and (current.holding or flag.shadow):
                continue
            review = self.reviews[flag.user_id] = Review(flag.user_id, flag.detector, flag.at_us, not flag.shadow)
            return review
        return None
