"""All detectors of one Kafka partition, fed its accepted actions in log order."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from scoreboard.domain.detectors.config import DetectionConfig
from scoreboard.domain.detectors.rank_jump import RankJumpDetector
from scoreboard.domain.detectors.records import Flag, Observation
from scoreboard.domain.detectors.regularity import RegularityDetector
from scoreboard.domain.detectors.swarm import SwarmDetector
from scoreboard.domain.detectors.velocity import VelocityDetector


class Detector(Protocol):
    name: str

    def observe(self, obs: Observation, now_us: int) -> Flag | None: ...


class PartitionDetectors:
    """Event time only, never the wall clock. The clock is the latest event time seen (so it never goes
    back); an action more than ``max_lateness_seconds`` behind it is ignored, an earlier one is judged at
    the clock. Every decision reads only actions within ``config.horizon_us`` of the clock, so a fresh
    instance fed the last ``horizon_us`` of the partition and then the rest raises the same flags on the rest."""

    def __init__(self, config: DetectionConfig) -> None:
        self.config = config
        candidates: list[tuple[bool, Detector]] = [
            (config.velocity.enabled, VelocityDetector(config.velocity)),
            (config.regularity.enabled, RegularityDetector(config.regularity)),
            (config.swarm.enabled, SwarmDetector(config.swarm)),
            (config.rank_jump.enabled, RankJumpDetector(config.rank_jump)),
        ]
        self._detectors = [detector for enabled, detector in candidates if enabled]
        self._lateness_us = config.lateness_us
        self._clock_us: int | None = None

    @property
    def clock_us(self) -> int | None:
        """The latest event time seen (None before the first action)."""
        return self._clock_us

    def observe(self, obs: Observation) -> list[Flag]:
        """Every flag this action raises: at most one per detector, all about ``obs.user_id``."""
        clock = self._clock_us
        if clock is not None and obs.at_us < clock - self._lateness_us:
            return []
        now = obs.at_us if clock is None or obs.at_us > clock else clock
        self._clock_us = now
        flags = []
        for detector in self._detectors:
            flag = detector.observe(obs, now)
            if flag is not None:
                if flag.hold_from_us > flag.at_us:
                    flag = dataclasses.replace(flag, hold_from_us=flag.at_us)
                flags.append(flag)
        return flags
