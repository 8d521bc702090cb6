"""Velocity: points per window far above the partition's population, sustained, flag; the honest
patterns next to it (the most active players, a population-wide surge, a quiet partition) do not."""

from __future__ import annotations

import dataclasses
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from scoreboard.domain.detection import DetectionConfig, Flag, Observation, PartitionDetectors, VelocityConfig

SECOND = 1_000_000
HOUR = 3600 * SECOND
START = 1_796_000_000 * SECOND
LONG_AGO = START - 400 * 24 * HOUR
# Only velocity, so that other detectors' flags cannot make a test pass or fail.
ONLY_VELOCITY = DetectionConfig(
    regularity=dataclasses.replace(DetectionConfig().regularity, enabled=False),
    swarm=dataclasses.replace(DetectionConfig().swarm, enabled=False),
    rank_jump=dataclasses.replace(DetectionConfig().rank_jump, enabled=False),
)
Action = tuple[int, str, str, int]  # (at_us, user, action, points)


def player(rng: random.Random, user: str, hours: float, pace: float, points_scale: int = 1) -> list[Action]:
    """A human: sessions of Weibull length (shape 0.7) with heavy-tailed breaks; in a session, levels and
    matches whose duration and the pause after it are log-normal; at most 1,200 points per UTC hour."""
    actions: list[Action] = []
    at = START + int(rng.uniform(0, 3600) * SECOND)
    end = START + int(hours * HOUR)
    earned: dict[int, int] = {}
    while at < end:
        stop = at + int(rng.weibullvariate(1800 * pace, 0.7) * SECOND)
        while at < min(stop, end):
            level = rng.random() < 0.72
            busy = rng.lognormvariate(math.log(150 if level else 480), 0.5 if level else 0.4)
            at += int((busy + rng.lognormvariate(math.log(45 / pace), 1.0)) * SECOND)
            points = (50 if level else 100) * points_scale
            hour = at // HOUR
            if earned.get(hour, 0) + points <= 1200 * points_scale:
                earned[hour] = earned.get(hour, 0) + points
                actions.append((at, user, "complete-level" if level else "win-match", points))
        at += int(rng.lognormvariate(math.log(2 * 3600), 1.0) * SECOND)
    return actions


def crowd(seed: int, users: int, hours: float, points_scale: int = 1) -> list[Action]:
    """A partition's honest players; activity varies 20-fold (log-normal), so its top 0.1% is intense."""
    rng = random.Random(seed)
    actions: list[Action] = []
    for index in range(users):
        pace = min(rng.lognormvariate(0, 0.6), 4.0)
        actions += player(rng, f"h{index}", hours, pace, points_scale)
    return actions


def farmer(user: str, hours: float, seed: int = 0) -> list[Action]:
    """A script spending the whole hourly budget: a level every 90-100 s until the UTC hour's 1,200 points."""
    rng = random.Random(seed)
    actions: list[Action] = []
    at, earned = START, dict[int, int]()
    while at < START + hours * HOUR:
        at += int(rng.uniform(90, 100) * SECOND)
        if earned.get(at // HOUR, 0) + 50 <= 1200:
            earned[at // HOUR] = earned.get(at // HOUR, 0) + 50
            actions.append((at, user, "complete-level", 50))
    return actions


def detect(actions: list[Action], config: DetectionConfig = ONLY_VELOCITY) -> list[Flag]:
    detectors = PartitionDetectors(config)
    scores: dict[str, int] = {}
    flags = []
    for offset, (at, user, action, points) in enumerate(sorted(actions)):
        scores[user] = scores.get(user, 0) + points
        obs = Observation(0, offset, user, action, points, at, scores[user], LONG_AGO)
        flags += detectors.observe(obs)
    return flags


def best_hour(actions: list[Action]) -> int:
    earned: dict[tuple[str, int], int] = {}
    for at, user, _, points in actions:
        earned[user, at // HOUR] = earned.get((user, at // HOUR), 0) + points
    return max(earned.values())


def test_a_farmer_spending_the_hourly_budget_among_players_is_flagged() -> None:
    """A script at 1,200 points every hour stands far above 400 players and is flagged, with the figures."""
    flags = detect(crowd(1, 400, 5) + farmer("bot", 5))
    assert {flag.user_id for flag in flags} == {"bot"}
    first = flags[0]
    assert first.detector == "velocity" and not first.shadow
    assert first.at_us - START <= 2 * HOUR  # one window to stand out, one hour of being sustained
    assert first.hold_from_us <= first.at_us - 3600 * SECOND + 60 * SECOND
    evidence = first.evidence
    assert isinstance(evidence["z"], float) and evidence["z"] >= 3.5
    population = evidence["population"]
    assert isinstance(population, dict) and population["n"] >= 30
    user = evidence["user"]
    assert isinstance(user, dict) and user["points"] > population["p99"]


@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1))
def test_honest_players_including_the_most_active_are_never_flagged(seed: int) -> None:
    """1,000 players over 6 h, whose most active spend most of their hourly budget: no flag."""
    actions = crowd(seed, 1000, 6)
    assert best_hour(actions) >= 900  # the crowd does hold players who look suspicious on velocity alone
    assert detect(actions) == []


def test_a_population_wide_surge_flags_nobody() -> None:
    """A double-points event for everyone moves the median and the MAD with it: no flag."""
    assert detect(crowd(2, 600, 5, points_scale=2)) == []


def test_one_player_at_double_speed_in_the_same_crowd_is_flagged() -> None:
    """The contrast to the surge: the same crowd with only the farmer at full budget flags the farmer."""
    assert {flag.user_id for flag in detect(crowd(2, 600, 5) + farmer("bot", 5))} == {"bot"}


def test_a_quiet_partition_never_judges_its_only_active_user() -> None:
    """Below min_population active users, nobody is judged, however fast they earn."""
    assert detect(farmer("alone", 6) + crowd(3, 10, 6)) == []


def test_a_burst_shorter_than_the_sustain_time_is_not_flagged() -> None:
    """Forty minutes at full budget, then a stop: an outlier for a while, never for sustain_seconds."""
    burst = [action for action in farmer("keen", 6) if action[0] < START + 40 * 60 * SECOND]
    assert detect(crowd(4, 400, 6) + burst) == []


def test_mad_zero_falls_back_to_a_percentile_scale() -> None:
    """Most players earn exactly the same (MAD = 0): the scale comes from the percentiles, the farmer is
    still flagged and the players (a few of whom earn more than the rest) are not."""
    rng = random.Random(5)
    steady = [(START + (minute * 60 + rng.randrange(5)) * SECOND, f"s{user}", "complete-level", 50)
              for user in range(60) for minute in range(user % 7, 360, 10)]
    extra = [(START + (minute * 60 + 30) * SECOND, f"s{user}", "win-match", 100)
             for user in range(4) for minute in range(3, 360, 15)]
    flags = detect(steady + extra + farmer("bot", 6))
    assert {flag.user_id for flag in flags} == {"bot"}
    assert {flag.evidence["scale_basis"] for flag in flags} <= {"p90", "p95", "p99", "floor"}
    assert flags[0].evidence["mad"] == 0


def test_the_cutoff_is_relative_to_the_population_not_a_fixed_number() -> None:
    """The same farmer among a crowd that earns as much as it does is not an outlier."""
    peers = [action for index in range(60) for action in farmer(f"peer{index}", 5, seed=index)]
    assert detect(crowd(6, 100, 5) + peers + farmer("bot", 5)) == []


def test_a_shadow_velocity_flag_says_so() -> None:
    """In shadow mode the flag still comes back, marked shadow=True."""
    shadow = dataclasses.replace(ONLY_VELOCITY, velocity=VelocityConfig(shadow=True))
    flags = detect(crowd(1, 400, 5) + farmer("bot", 5), shadow)
    assert flags and all(flag.shadow for flag in flags)
