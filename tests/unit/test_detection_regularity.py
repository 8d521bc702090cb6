"""Regularity: machine-regular timing flags (a script waiting the cooldown plus a little jitter, fixed
ticket durations); human timing (log-normal, Weibull gaps and durations) never does."""

from __future__ import annotations

import dataclasses
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from scoreboard.domain.detection import DetectionConfig, Flag, Observation, PartitionDetectors, RegularityConfig
from scoreboard.domain.detectors.regularity import corrected_burstiness

SECOND = 1_000_000
START = 1_796_000_000 * SECOND
ONLY_REGULARITY = DetectionConfig(
    velocity=dataclasses.replace(DetectionConfig().velocity, enabled=False),
    swarm=dataclasses.replace(DetectionConfig().swarm, enabled=False),
    rank_jump=dataclasses.replace(DetectionConfig().rank_jump, enabled=False),
)


def run(gaps_seconds: list[float], durations_seconds: list[float] | None = None, action: str = "complete-level",
        config: DetectionConfig = ONLY_REGULARITY) -> list[Flag]:
    """One user's actions, the given gaps apart (and, if given, each a ticketed fight of that duration)."""
    detectors = PartitionDetectors(config)
    at, score, flags = START, 0, []
    for index, gap in enumerate(gaps_seconds):
        at += int(gap * SECOND)
        score += 50
        started = at - int(durations_seconds[index] * SECOND) if durations_seconds else 0
        flags += detectors.observe(Observation(0, index, "u", action, 50, at, score, START - 10**12, "", "",
                                               started))
    return flags


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), median=st.floats(60, 1800), sigma=st.floats(0.4, 1.5))
def test_log_normal_human_gaps_never_flag(seed: int, median: float, sigma: float) -> None:
    """Log-normal gaps, 60 actions: never machine-regular."""
    rng = random.Random(seed)
    assert run([rng.lognormvariate(math.log(median), sigma) for _ in range(60)]) == []


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), cooldown=st.sampled_from([90, 300]), ratio=st.floats(0.5, 3.0),
       sigma=st.floats(0.5, 1.5))
def test_a_human_replaying_right_after_the_cooldown_never_flags(seed: int, cooldown: int, ratio: float,
                                                                sigma: float) -> None:
    """The cooldown, then playing the level again (log-normal, median from half the cooldown up): no flag."""
    rng = random.Random(seed)
    assert run([cooldown + rng.lognormvariate(math.log(ratio * cooldown), sigma) for _ in range(60)]) == []


@settings(max_examples=100, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(60, 1800), shape=st.floats(0.5, 2.0))
def test_weibull_human_gaps_never_flag(seed: int, scale: float, shape: float) -> None:
    """Weibull gaps (shape 0.5 to 2: from bursty to fairly steady humans), 60 actions: no flag."""
    rng = random.Random(seed)
    assert run([rng.weibullvariate(scale, shape) for _ in range(60)]) == []


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), cooldown=st.sampled_from([90, 300, 600]), jitter=st.floats(0, 5))
def test_a_script_waiting_the_cooldown_plus_jitter_always_flags(seed: int, cooldown: int, jitter: float) -> None:
    """The cooldown plus up to 5 s of uniform jitter: flagged by the 13th action (12 gaps)."""
    rng = random.Random(seed)
    gaps = [cooldown + rng.uniform(0, jitter) for _ in range(13)]
    flags = run(gaps)
    assert [flag.detector for flag in flags] == ["regularity"]
    flag = flags[0]
    assert flag.hold_from_us == START + int(gaps[0] * SECOND)  # the first action of the first gap
    corrected = flag.evidence["burstiness_corrected"]
    assert isinstance(corrected, float) and corrected <= -0.9
    user = flag.evidence["user"]
    assert isinstance(user, dict) and user["series"] == "gaps" and user["samples"] == 12


def test_eleven_regular_gaps_are_not_yet_enough() -> None:
    """Below min_samples gaps nothing is judged, however regular."""
    assert run([300.0] * 12) == []
    assert run([300.0] * 13) != []


def test_fixed_ticket_durations_flag_and_human_durations_do_not() -> None:
    """Boss fights that always last the minimum plus under a second flag; log-normal fight times do not."""
    rng = random.Random(4)
    human_gaps = [300 + rng.lognormvariate(math.log(300), 0.8) for _ in range(14)]  # too irregular as gaps
    scripted = run(human_gaps, [60 + rng.uniform(0, 1) for _ in range(14)], action="boss-fight")
    assert scripted
    user = scripted[0].evidence["user"]
    assert isinstance(user, dict) and user["series"] == "durations" and user["samples"] == 10
    human = run(human_gaps, [rng.lognormvariate(math.log(240), 0.4) for _ in range(14)], action="boss-fight")
    assert human == []


def test_gaps_older_than_the_lookback_are_forgotten() -> None:
    """Twelve regular gaps spread over more than the lookback never make a series."""
    hours = RegularityConfig().lookback_seconds / 3600
    assert run([3600.0 * hours / 6] * 30) == []


def test_the_corrected_burstiness_is_minus_one_for_periodic_and_about_zero_for_poisson() -> None:
    """Kim & Jo's correction: -1 for identical gaps at any length, near 0 for exponential gaps."""
    assert corrected_burstiness(0.0, 13) == -1.0
    rng = random.Random(1)
    values = [rng.expovariate(1.0) for _ in range(2000)]
    mean = sum(values) / len(values)
    cv = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) / mean
    assert abs(corrected_burstiness(cv, len(values))) < 0.05


def test_a_disabled_regularity_detector_never_flags() -> None:
    """enabled=false: the perfectly periodic script raises nothing."""
    off = dataclasses.replace(ONLY_REGULARITY, regularity=RegularityConfig(enabled=False))
    assert run([300.0] * 40, config=off) == []
