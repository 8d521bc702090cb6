"""The detectors' knobs: one frozen sub-config per detector, read from the catalog TOML's ``[detection]``
table. Every knob has a default tuned for the shipped catalog (budget 1,200 points/hour, 6,000/day);
unknown keys and bad values are refused at start, naming the key."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scoreboard.domain.errors import ConfigurationError

SECOND_US = 1_000_000


@dataclass(frozen=True)
class VelocityConfig:
    """Points in a sliding window against the population's distribution of the same figure."""

    enabled: bool = True
    shadow: bool = False
    window_seconds: int = 3600
    bucket_seconds: int = 60
    cutoff: float = 3.5            # modified z-score
    quantile: float = 0.99         # the user must also sit above this quantile of the population
    min_population: int = 30       # active users in the window before anyone is judged
    min_points: int = 600          # the user's points in the window before they are judged
    min_events: int = 6            # the user's actions in the window before they are judged
    sustain_seconds: int = 3600    # judged an outlier at every action for at least this long...
    sustain_events: int = 4        # ...and at least this many times within the last sustain_seconds

    @property
    def window_buckets(self) -> int:
        return -(-self.window_seconds // self.bucket_seconds)

    @property
    def sustain_buckets(self) -> int:
        return max(1, -(-self.sustain_seconds // self.bucket_seconds))

    def lookback_us(self) -> int:
        # the window, plus the judgements of the last 2 * sustain (each read its own window)
        return (self.window_buckets + 2 * self.sustain_buckets + 1) * self.bucket_seconds * SECOND_US


@dataclass(frozen=True)
class RegularityConfig:
    """Near-periodic timing: the burstiness of a user's gaps (or completion durations) for one action."""

    enabled: bool = True
    shadow: bool = False
    max_burstiness: float = -0.9   # Kim & Jo corrected burstiness at or below this flags (CV < ~0.065)
    min_samples: int = 12          # gaps needed before judging
    max_samples: int = 24          # the most recent gaps considered
    min_durations: int = 10        # ticketed completion durations needed before judging
    lookback_seconds: int = 10800  # gaps and durations older than this are forgotten

    def lookback_us(self) -> int:
        return self.lookback_seconds * SECOND_US


@dataclass(frozen=True)
class SwarmConfig:
    """New accounts behind one client or device hash acting in lockstep."""

    enabled: bool = True
    shadow: bool = False
    new_account_seconds: int = 86400  # an account is "new" this long after its first accepted action
    lockstep_seconds: int = 5         # same action within the same slot of this length = one co-action
    min_accounts: int = 4             # accounts (this one and its lockstep partners) before flagging
    min_co_actions: int = 5           # slots a pair must share to be lockstep partners
    lookback_seconds: int = 10800

    @property
    def lookback_slots(self) -> int:
        return -(-self.lookback_seconds // self.lockstep_seconds)

    def lookback_us(self) -> int:
        return (self.lookback_slots + 1) * self.lockstep_seconds * SECOND_US


@dataclass(frozen=True)
class RankJumpConfig:
    """Entering the partition's top N by all-time score from below the median within a short window."""

    enabled: bool = True
    shadow: bool = False
    top_n: int = 10
    jump_seconds: int = 1800       # from below the median to the top N within this long
    active_seconds: int = 10800    # the population: users with an action within this long
    bucket_seconds: int = 60
    min_population: int = 100      # active users before anyone is judged
    min_gain: int = 0              # points gained within jump_seconds before judging

    @property
    def jump_buckets(self) -> int:
        return -(-self.jump_seconds // self.bucket_seconds)

    @property
    def active_buckets(self) -> int:
        return -(-self.active_seconds // self.bucket_seconds)

    def lookback_us(self) -> int:
        return (max(self.jump_buckets, self.active_buckets) + 1) * self.bucket_seconds * SECOND_US


_C = TypeVar("_C")


@dataclass(frozen=True)
class DetectionConfig:
    """Every detector's knobs. ``max_lateness_seconds``: an action whose event time lies further behind
    the latest seen is ignored by the detectors (an earlier one is judged at the latest time seen)."""

    velocity: VelocityConfig = field(default_factory=VelocityConfig)
    regularity: RegularityConfig = field(default_factory=RegularityConfig)
    swarm: SwarmConfig = field(default_factory=SwarmConfig)
    rank_jump: RankJumpConfig = field(default_factory=RankJumpConfig)
    max_lateness_seconds: int = 60

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> DetectionConfig:
        """The ``[detection]`` table, e.g. ``[detection.velocity] enabled = true cutoff = 3.5``."""
        where = "[detection]"
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"{where} must be a table")
        sections = {"velocity": VelocityConfig, "regularity": RegularityConfig, "swarm": SwarmConfig,
                    "rank_jump": RankJumpConfig}
        unknown = sorted(set(table) - set(sections) - {"max_lateness_seconds"})
        if unknown:
            raise ConfigurationError(f"{where}: unknown key {unknown[0]!r} (known: "
                                     f"{sorted([*sections, 'max_lateness_seconds'])})")
        parts: dict[str, Any] = {name: _parse_section(kind, table.get(name, {}), f"{where}.{name}")
                                 for name, kind in sections.items()}
        lateness = table.get("max_lateness_seconds", 60)
        parts["max_lateness_seconds"] = _check_value("max_lateness_seconds", int, lateness, where)
        return cls(**parts)

    @property
    def horizon_us(self) -> int:
        """How far back in event time any detector's decisions reach (the restart replay's length)."""
        reach = max(self.velocity.lookback_us(), self.regularity.lookback_us(), self.swarm.lookback_us(),
                    self.rank_jump.lookback_us())
        return reach + self.max_lateness_seconds * SECOND_US

    @property
    def lateness_us(self) -> int:
        return self.max_lateness_seconds * SECOND_US


def _parse_section(kind: type[_C], table: object, where: str) -> _C:
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{where} must be a table")
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigurationError(f"{where}: unknown key {unknown[0]!r} (known: {sorted(fields)})")
    defaults = kind()
    values = {name: _check_value(name, type(getattr(defaults, name)), value, where) for name, value in table.items()}
    config = kind(**values)
    _check_relations(config, where)
    return config


def _check_value(name: str, expected: type, value: object, where: str) -> Any:
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigurationError(f"{where}: `{name}` must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{where}: `{name}` must be a number")
    if expected is int:
        if not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{where}: `{name}` must be a non-negative integer")
        return value
    if name == "max_burstiness":
        if not -1.0 <= value <= 1.0:
            raise ConfigurationError(f"{where}: `{name}` must lie in [-1, 1]")
    elif name == "quantile":
        if not 0.5 <= value < 1.0:
            raise ConfigurationError(f"{where}: `{name}` must lie in [0.5, 1)")
    elif value <= 0:
        raise ConfigurationError(f"{where}: `{name}` must be positive")
    return float(value)


def _check_relations(config: object, where: str) -> None:
    positive = ("window_seconds", "bucket_seconds", "lockstep_seconds", "top_n", "min_accounts", "min_co_actions",
                "lookback_seconds", "jump_seconds", "active_seconds", "new_account_seconds")
    for name in positive:
        if getattr(config, name, 1) <= 0:
            raise ConfigurationError(f"{where}: `{name}` must be positive")
    if isinstance(config, VelocityConfig) and config.window_seconds < config.bucket_seconds:
        raise ConfigurationError(f"{where}: `window_seconds` must be at least `bucket_seconds`")
    if isinstance(config, RegularityConfig):
        if config.min_samples < 3 or config.min_durations < 3:
            raise ConfigurationError(f"{where}: `min_samples` and `min_durations` must be at least 3")
        if config.max_samples < max(config.min_samples, config.min_durations):
            raise ConfigurationError(f"{where}: `max_samples` must be at least `min_samples` and `min_durations`")
    if isinstance(config, RankJumpConfig):
        if config.active_seconds < config.jump_seconds:
            raise ConfigurationError(f"{where}: `active_seconds` must be at least `jump_seconds`")
        if config.min_population < 2 * config.top_n:
            raise ConfigurationError(f"{where}: `min_population` must be at least twice `top_n`")
    if isinstance(config, SwarmConfig) and config.min_accounts < 2:
        raise ConfigurationError(f"{where}: `min_accounts` must be at least 2")
