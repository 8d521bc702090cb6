"""The ``[detection]`` table: defaults, overrides, refusals that name the key, and the horizon."""

from __future__ import annotations

import tomllib

import pytest

from scoreboard.domain.detection import (
    DetectionConfig,
    Observation,
    PartitionDetectors,
    RankJumpConfig,
    RegularityConfig,
    SwarmConfig,
    VelocityConfig,
)
from scoreboard.domain.errors import ConfigurationError

SECOND = 1_000_000


def test_an_empty_table_gives_the_defaults() -> None:
    """No [detection] keys: every detector enabled, none in shadow, the documented knobs."""
    config = DetectionConfig.from_mapping({})
    assert config == DetectionConfig()
    assert all(part.enabled and not part.shadow
               for part in (config.velocity, config.regularity, config.swarm, config.rank_jump))
    assert config.velocity.cutoff == 3.5 and config.rank_jump.top_n == 10 and config.swarm.min_accounts == 4


def test_the_catalog_toml_table_sets_each_knob() -> None:
    """A TOML [detection] table as the catalog holds it: integers accepted for real-valued knobs."""
    table = tomllib.loads("""
        max_lateness_seconds = 30
        [velocity]
        shadow = true
        cutoff = 4
        window_seconds = 1800
        [regularity]
        enabled = false
        [swarm]
        min_accounts = 3
        [rank_jump]
        top_n = 20
        min_population = 200
    """)
    config = DetectionConfig.from_mapping(table)
    assert config.velocity == VelocityConfig(shadow=True, cutoff=4.0, window_seconds=1800)
    assert config.regularity == RegularityConfig(enabled=False)
    assert config.swarm == SwarmConfig(min_accounts=3)
    assert config.rank_jump == RankJumpConfig(top_n=20, min_population=200)
    assert config.max_lateness_seconds == 30


@pytest.mark.parametrize(("table", "named"), [
    ({"speed": {}}, "speed"),
    ({"velocity": {"cutof": 3.5}}, "cutof"),
    ({"rank-jump": {}}, "rank-jump"),
    ({"swarm": {"enabled": "yes"}}, "enabled"),
    ({"velocity": {"window_seconds": 1.5}}, "window_seconds"),
    ({"velocity": {"min_points": -1}}, "min_points"),
    ({"velocity": {"cutoff": True}}, "cutoff"),
    ({"velocity": {"quantile": 1.0}}, "quantile"),
    ({"regularity": {"max_burstiness": -2}}, "max_burstiness"),
    ({"regularity": {"min_samples": 2}}, "min_samples"),
    ({"swarm": {"lockstep_seconds": 0}}, "lockstep_seconds"),
    ({"rank_jump": {"active_seconds": 60}}, "active_seconds"),
    ({"velocity": "on"}, "velocity"),
    ({"max_lateness_seconds": "1m"}, "max_lateness_seconds"),
])
def test_unknown_keys_and_bad_values_are_refused_naming_the_key(table: dict[str, object], named: str) -> None:
    """A typo or a wrong type stops the process at start, and the message says which key."""
    with pytest.raises(ConfigurationError, match=named):
        DetectionConfig.from_mapping(table)


def test_the_horizon_covers_every_detector_and_the_lateness() -> None:
    """horizon_us reaches at least as far back as the longest detector's reads, plus the allowed lateness."""
    config = DetectionConfig()
    velocity = config.velocity
    assert config.horizon_us >= (velocity.window_seconds + 2 * velocity.sustain_seconds) * SECOND
    assert config.horizon_us >= (config.regularity.lookback_seconds + config.max_lateness_seconds) * SECOND
    assert config.horizon_us >= config.rank_jump.active_seconds * SECOND
    assert config.horizon_us <= 4 * 3600 * SECOND  # a restart replays about three hours, not a day
    longer = DetectionConfig(swarm=SwarmConfig(lookback_seconds=6 * 3600))
    assert longer.horizon_us >= 6 * 3600 * SECOND


def test_all_detectors_disabled_raise_nothing_and_hold_nothing() -> None:
    """With every detector off, observe returns no flags at any pace."""
    off = DetectionConfig.from_mapping({name: {"enabled": False}
                                        for name in ("velocity", "regularity", "swarm", "rank_jump")})
    detectors = PartitionDetectors(off)
    flags = [detectors.observe(Observation(0, i, "u", "a", 500, i * 10 * SECOND, 500 * (i + 1), 0, "h", "d"))
             for i in range(200)]
    assert flags == [[]] * 200


def test_an_action_later_than_the_allowed_lateness_is_ignored() -> None:
    """Event time only: one far behind the detectors' clock changes nothing and the clock never goes back."""
    detectors = PartitionDetectors(DetectionConfig())
    detectors.observe(Observation(0, 0, "u", "a", 5, 1000 * SECOND, 5, 0))
    assert detectors.observe(Observation(0, 1, "v", "a", 5, 900 * SECOND, 5, 0)) == []
    assert detectors.clock_us == 1000 * SECOND
    detectors.observe(Observation(0, 2, "w", "a", 5, 990 * SECOND, 5, 0))
    assert detectors.clock_us == 1000 * SECOND
