"""Rank jump: from below the median into the partition's top 10 within 30 minutes flags; climbing there
over hours, gaining while already near the top, or a partition too small to judge does not."""

from __future__ import annotations

import dataclasses
import math
import random

from scoreboard.domain.detection import DetectionConfig, Flag, Observation, PartitionDetectors, RankJumpConfig

SECOND = 1_000_000
MINUTE = 60 * SECOND
START = 1_796_000_000 * SECOND
ONLY_RANK_JUMP = DetectionConfig(
    velocity=dataclasses.replace(DetectionConfig().velocity, enabled=False),
    regularity=dataclasses.replace(DetectionConfig().regularity, enabled=False),
    swarm=dataclasses.replace(DetectionConfig().swarm, enabled=False),
)
Action = tuple[int, str, int]  # (at_us, user, points)


def players(count: int, hours: float, seed: int = 1) -> tuple[list[Action], dict[str, int]]:
    """Established players (all-time scores log-normal around 3,000) earning at a human pace."""
    rng = random.Random(seed)
    scores = {f"p{index}": int(rng.lognormvariate(math.log(3000), 1.0)) for index in range(count)}
    actions = []
    for user in scores:
        at = START + int(rng.uniform(0, 1200) * SECOND)
        while at < START + hours * 3600 * SECOND:
            actions.append((at, user, rng.choice([50, 50, 100])))
            at += int(rng.lognormvariate(math.log(600), 0.8) * SECOND)
    return actions, scores


def detect(actions: list[Action], scores: dict[str, int], config: DetectionConfig = ONLY_RANK_JUMP) -> list[Flag]:
    detectors = PartitionDetectors(config)
    totals = dict(scores)
    flags = []
    for offset, (at, user, points) in enumerate(sorted(actions)):
        totals[user] = totals.get(user, 0) + points
        flags += detectors.observe(Observation(2, offset, user, "win-match", points, at, totals[user],
                                               START - 10**12))
    return flags


def top_ten_threshold(scores: dict[str, int]) -> int:
    return sorted(scores.values(), reverse=True)[9]


def test_a_jump_from_below_the_median_into_the_top_ten_within_minutes_is_flagged() -> None:
    """An exploit: from 200 points to past the 10th best in 20 minutes: flagged, held from the first action
    of the jump, with the rank and the population's percentiles."""
    actions, scores = players(300, 3)
    scores["cheat"] = 200
    target = top_ten_threshold(scores) + 2000
    jump = [(START + 90 * MINUTE + step * MINUTE, "cheat", target // 20) for step in range(21)]
    flags = detect(actions + jump, scores)
    assert {flag.user_id for flag in flags} == {"cheat"}
    first = flags[0]
    assert first.detector == "rank-jump" and first.hold_from_us == START + 90 * MINUTE
    user = first.evidence["user"]
    assert isinstance(user, dict) and user["rank"] <= 10 and user["score_at_window_start"] == 200
    population = first.evidence["population"]
    assert isinstance(population, dict) and population["n"] >= 100


def test_climbing_into_the_top_ten_over_hours_is_not_flagged() -> None:
    """The same gain spread over ten hours: 30 minutes before entering the top 10 the climber was already
    far above the median."""
    actions, scores = players(300, 11)
    scores["climber"] = 200
    target = top_ten_threshold(scores) + 2000
    climb = [(START + step * 10 * MINUTE, "climber", target // 40) for step in range(61)]
    final = dict(scores)
    for _, user, points in actions + climb:
        final[user] += points
    assert top_ten_threshold(final) < final["climber"]  # the climber does end in the top 10
    assert detect(actions + climb, scores) == []


def test_a_player_already_near_the_top_who_gains_is_not_flagged() -> None:
    """Gaining fast while above the median is not a jump from below."""
    actions, scores = players(300, 3)
    scores["star"] = top_ten_threshold(scores) - 100
    burst = [(START + 60 * MINUTE + step * MINUTE, "star", 300) for step in range(10)]
    assert detect(actions + burst, scores) == []


def test_a_partition_with_too_few_active_users_does_not_judge() -> None:
    """Below min_population active users, entering its top 10 means little: no flag."""
    actions, scores = players(40, 3)
    scores["cheat"] = 0
    jump = [(START + 90 * MINUTE + step * MINUTE, "cheat", 5000) for step in range(10)]
    assert detect(actions + jump, scores) == []


def test_a_shadow_rank_jump_flag_says_so() -> None:
    """shadow=true: the flag comes back marked shadow."""
    actions, scores = players(300, 3)
    scores["cheat"] = 0
    jump = [(START + 90 * MINUTE + step * MINUTE, "cheat", 20_000) for step in range(10)]
    config = dataclasses.replace(ONLY_RANK_JUMP, rank_jump=RankJumpConfig(shadow=True))
    flags = detect(actions + jump, scores, config)
    assert flags and all(flag.shadow for flag in flags)
