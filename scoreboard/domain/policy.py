"""The worker's judgement of an event against the catalog's policy, from the log alone.

The api refuses early from Redis (rate limits, cooldowns, caps, budgets); that is a fast path, and
Redis can be flushed, and the api can be bypassed. The worker judges every event again here, by the
catalog version the event records and by the per-user *usage* the ledger keeps in the same
transaction as the scores, so the outcome is a function of the log: the same after a Redis flush,
for a record written straight to Kafka, and after a rebuild.

Usage is a handful of counters per user, each for one time window (so the state stays bounded):

- ``pts:h`` / ``pts:d``: points accepted in the UTC hour / UTC day (the points budget);
- ``cap:<action>``: completions of the action in the UTC day (``daily_cap``);
- ``last:<action>``: when the action was last accepted (``cooldown_seconds``);
- ``hours``: which UTC hours of the last two days had an accepted action, for the ``tireless``
  detector (``scoreboard.domain.detectors.counters``), kept only while that detector is on.

Times are the server times recorded in the events. An event older than a counter's window (two api
instances whose clocks differ a little) counts in the counter's newer window: never in a fresh one.
Cooldowns allow ``COOLDOWN_TOLERANCE_US`` for the difference between the api's Redis expiry and the
recorded times. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scoreboard.domain.catalog import Action, Catalog, Catalogs
from scoreboard.domain.detection import DetectionConfig
from scoreboard.domain.detectors.counters import HOURS_COUNTER, CounterDetection, advance_hours
from scoreboard.domain.events import ActionCompleted, LogEvent

HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000
COOLDOWN_TOLERANCE_US = 1_000_000

UsageKey = tuple[str, str]
"""(user_id, counter name)."""


@dataclass(frozen=True)
class Usage:
    window: int
    amount: int


@dataclass(frozen=True)
class Verdict:
    """``reason`` (``code: detail``) if the event breaks the policy, else the usage it adds."""

    reason: str | None
    usage: dict[UsageKey, Usage]


def _counters(event: ActionCompleted, action: Action) -> list[tuple[str, int]]:
    """(counter name, window) an accepted completion of ``action`` adds to."""
    at = event.occurred_at_us
    names = [("pts:h", at // HOUR_US), ("pts:d", at // DAY_US)]
    if action.daily_cap:
        names.append((f"cap:{action.action_id}", at // DAY_US))
    if action.cooldown_seconds:
        names.append((f"last:{action.action_id}", 0))
    return names


class Judge:
    def __init__(self, catalogs: Catalogs, max_skew_us: int) -> None:
        self._catalogs = catalogs
        self._max_skew_us = max_skew_us
        self._prices: dict[tuple[str, str, int], tuple[Catalog, Action] | str] = {}
        counters = catalogs.current.counter_detection
        self._hours = counters is not None and counters.tireless.enabled
        """Memo of ``_priced`` (each event is priced twice: for the keys to load, then to judge)."""

    @property
    def detection(self) -> DetectionConfig | None:
        """The current catalog's detector settings (None: detection is off)."""
        return self._catalogs.current.detection

    @property
    def counter_detection(self) -> CounterDetection | None:
        """The current catalog's ``prober`` and ``tireless`` settings (None: detection is off)."""
        return self._catalogs.current.counter_detection

    def usage_keys(self, event: LogEvent) -> list[UsageKey]:
        """The counters judging ``event`` reads (none for admin events)."""
        if not isinstance(event, ActionCompleted):
            return []
        found = self._priced(event)
        if isinstance(found, str):
            return []
        keys = [(event.user_id, name) for name, _ in _counters(event, found[1])]
        return [*keys, (event.user_id, HOURS_COUNTER)] if self._hours else keys

    def check_time(self, event: LogEvent, broker_time_us: int) -> str | None:
        """Refuse an event whose recorded time is far from when the broker took the record (a
        backdated or far-future record); a record without a broker time is not judged on it."""
        if broker_time_us > 0 and abs(event.occurred_at_us - broker_time_us) > self._max_skew_us:
            return (f"time-skew: occurred_at_us {event.occurred_at_us} is more than "
                    f"{self._max_skew_us // 1_000_000}s from the broker's timestamp {broker_time_us}")
        return None

    def judge(self, event: ActionCompleted, usage_of: Callable[[UsageKey], Usage | None]) -> Verdict:
        found = self._priced(event)
        if isinstance(found, str):
            return Verdict(found, {})
        catalog, action = found
        at = event.occurred_at_us
        updates: dict[UsageKey, Usage] = {}
        amounts: dict[str, int] = {}
        for name, window in _counters(event, action):
            key = (event.user_id, name)
            stored = usage_of(key)
            if name.startswith("last:"):
                last = stored.amount if stored else None
                if last is not None and at < last + action.cooldown_seconds * 1_000_000 - COOLDOWN_TOLERANCE_US:
                    return Verdict(f"cooldown: {action.action_id!r} was accepted {(at - last) / 1e6:.1f}s "
                                   f"earlier; its cooldown is {action.cooldown_seconds}s", {})
                updates[key] = Usage(0, at if last is None else max(last, at))
                continue
            current = stored.amount if stored and stored.window >= window else 0
            amounts[name] = current
            increment = 1 if name.startswith("cap:") else max(0, event.points)
            updates[key] = Usage(max(window, stored.window if stored else window), current + increment)
        cap_name = f"cap:{action.action_id}"
        if cap_name in amounts and amounts[cap_name] >= action.daily_cap:
            return Verdict(f"cap: the daily cap of {action.daily_cap} for {action.action_id!r} is reached", {})
        limits = catalog.limits
        for name, budget, span in (("pts:h", limits.max_points_per_hour, "hour"),
                                   ("pts:d", limits.max_points_per_day, "day")):
            if budget and event.points > 0 and amounts[name] + event.points > budget:
                return Verdict(f"budget: {amounts[name]} points this {span} plus {event.points} is over the "
                               f"budget of {budget}", {})
        if self._hours:
            stored = usage_of((event.user_id, HOURS_COUNTER))
            window, mask = advance_hours(stored.window if stored else 0, stored.amount if stored else 0, at)
            updates[(event.user_id, HOURS_COUNTER)] = Usage(window, mask)
        return Verdict(None, updates)

    def _priced(self, event: ActionCompleted) -> tuple[Catalog, Action] | str:
        memo = (event.catalog_version, event.action_id, event.points)
        found = self._prices.get(memo)
        if found is None:
            if len(self._prices) > 4096:  # only signed events get here, but bound it anyway
                self._prices.clear()
            found = self._prices[memo] = self._price(event)
        return found

    def _price(self, event: ActionCompleted) -> tuple[Catalog, Action] | str:
        catalog = self._catalogs.get(event.catalog_version)
        if catalog is None:
            return f"catalog-version: no catalog {event.catalog_version!r} is known to the worker"
        action = catalog.get(event.action_id)
        if action is None or not action.enabled:
            return f"unknown-action: {event.action_id!r} is not an enabled action of catalog {catalog.version!r}"
        if event.points != action.points:
            return (f"points-mismatch: {event.points} points recorded, catalog {catalog.version!r} gives "
                    f"{action.action_id!r} {action.points}")
        return catalog, action
