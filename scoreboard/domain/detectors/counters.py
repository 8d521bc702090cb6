"""Two detectors whose whole state is the event itself or one of the ledger's usage counters, so they
need no horizon and no warm-up (``scoreboard.domain.detection`` holds the windowed ones):

**prober** — the api counts a user's refused attempts (rate limit, cooldown, daily cap, budget, a used
ticket) in Redis and records in the next accepted ``ActionCompleted`` how many came before it
(``refused_before``; the count expires an hour after the last refusal). A person retries a refused
button a few times; a script driving the rules as fast as they let it collects dozens between two
accepted actions. Flags when ``refused_before >= min_refused`` (30). This is what sees a max-rate
farmer within its first minute: its first ticketed action completes after ~60 s of refusals.
hold_from = one hour before the action (the counter's window).

**tireless** — humans sleep. The ledger keeps, per user, which UTC hours of the last two days had an
accepted action (``hours``: a bit mask in the usage counters, ``Usage(window=hour index, amount=mask)``,
written in the batch transaction like the policy's counters, so a rebuild reproduces it). Flags when
the last ``window_hours`` (24) hours hold at least ``min_active_hours`` (20) active hours: a slow farmer
spreading its daily budget round the clock stays under every rate and every regularity threshold, but
not under this. hold_from = the start of the window.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from scoreboard.domain.errors import ConfigurationError

HOUR_US = 3_600_000_000
HOURS_COUNTER = "hours"
MASK_HOURS = 48
PROBER_WINDOW_US = HOUR_US


@dataclass(frozen=True)
class ProberConfig:
    enabled: bool = True
    shadow: bool = False
    min_refused: int = 30


@dataclass(frozen=True)
class TirelessConfig:
    enabled: bool = True
    shadow: bool = False
    min_active_hours: int = 20
    window_hours: int = 24


@dataclass(frozen=True)
class CounterDetection:
    prober: ProberConfig = field(default_factory=ProberConfig)
    tireless: TirelessConfig = field(default_factory=TirelessConfig)

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> CounterDetection:
        """``[detection.prober]`` and ``[detection.tireless]`` of the catalog (others are not ours)."""
        prober = _parse(ProberConfig, table.get("prober", {}), "prober")
        tireless = _parse(TirelessConfig, table.get("tireless", {}), "tireless")
        hours = tireless.window_hours
        if not 1 <= hours <= MASK_HOURS or not 1 <= tireless.min_active_hours <= hours:
            raise ConfigurationError(
                f"[detection.tireless]: need 1 <= min_active_hours <= window_hours <= {MASK_HOURS}")
        if prober.min_refused < 1:
            raise ConfigurationError("[detection.prober]: `min_refused` must be at least 1")
        return cls(prober, tireless)


@dataclass(frozen=True)
class CounterFlag:
    """What ``scoreboard.domain.detection.Flag`` carries, for the two counter detectors."""

    detector: str
    at_us: int
    hold_from_us: int
    shadow: bool
    evidence: dict[str, object]


def advance_hours(window: int, mask: int, at_us: int) -> tuple[int, int]:
    """The (hour index, mask) after an accepted action at ``at_us``: bit 0 is the action's hour, bit k
    the hour k before it. An action older than the stored hour (clocks of two apis) marks its own bit."""
    hour = at_us // HOUR_US
    full = (1 << MASK_HOURS) - 1
    if hour >= window:
        return hour, ((mask << min(hour - window, MASK_HOURS)) | 1) & full
    return window, (mask | (1 << min(window - hour, MASK_HOURS - 1))) & full


def active_hours(mask: int, hours: int) -> int:
    return (mask & ((1 << hours) - 1)).bit_count()


def prober_flag(config: ProberConfig, refused_before: int, at_us: int) -> CounterFlag | None:
    if not config.enabled or refused_before < config.min_refused:
        return None
    return CounterFlag("prober", at_us, at_us - PROBER_WINDOW_US, config.shadow, {
        "summary": f"{refused_before} refused attempts before this action (a person retries a few times)",
        "window_seconds": PROBER_WINDOW_US // 1_000_000, "user": refused_before,
        "threshold": config.min_refused})


def tireless_flag(config: TirelessConfig, window: int, mask: int, at_us: int) -> CounterFlag | None:
    if not config.enabled:
        return None
    active = active_hours(mask, config.window_hours)
    if active < config.min_active_hours:
        return None
    return CounterFlag("tireless", at_us, (window - config.window_hours + 1) * HOUR_US, config.shadow, {
        "summary": f"active in {active} of the last {config.window_hours} hours (people sleep)",
        "window_seconds": config.window_hours * 3600, "user": active,
        "threshold": config.min_active_hours,
        "hours": [h for h in range(config.window_hours) if mask >> h & 1]})


def _parse(kind: type[Any], raw: object, name: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"[detection.{name}] must be a table")
    known = {f.name: f for f in fields(kind)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigurationError(f"[detection.{name}]: unknown keys {unknown}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        default = known[key].default
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, type(default)):
            raise ConfigurationError(f"[detection.{name}]: `{key}` must be a {type(default).__name__}")
        values[key] = value
    return kind(**values)
