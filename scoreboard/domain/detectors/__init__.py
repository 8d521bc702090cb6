"""The streaming cheat detectors, one module per detector. The API is re-exported by
``scoreboard.domain.detection``, whose docstring explains each statistic and its knobs."""

from scoreboard.domain.detectors.config import (
    DetectionConfig,
    RankJumpConfig,
    RegularityConfig,
    SwarmConfig,
    VelocityConfig,
)
from scoreboard.domain.detectors.partition import PartitionDetectors
from scoreboard.domain.detectors.records import Flag, Observation

__all__ = ["DetectionConfig", "Flag", "Observation", "PartitionDetectors", "RankJumpConfig", "RegularityConfig",
           "SwarmConfig", "VelocityConfig"]
