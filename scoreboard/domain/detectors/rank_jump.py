"""Rank jump: entering the partition's top N by all-time score from below its median within a short window."""

from __future__ import annotations

from collections import deque

from scoreboard.domain.detectors.config import SECOND_US, RankJumpConfig
from scoreboard.domain.detectors.population import Population
from scoreboard.domain.detectors.records import Flag, Observation


class RankJumpDetector:
    """The all-time scores of users active within ``active_seconds`` in a histogram (O(log n) per action);
    per user, their score at the start of each recent bucket, to know where they stood ``jump_seconds`` ago."""

    name = "rank-jump"

    def __init__(self, config: RankJumpConfig) -> None:
        self.config = config
        self._bucket_us = config.bucket_seconds * SECOND_US
        self._current: int | None = None
        self._scores: dict[str, tuple[int, int]] = {}        # user -> (score, bucket of last action)
        self._last_seen: dict[int, set[str]] = {}           # bucket -> users whose last action is in it
        self._order: deque[int] = deque()
        self._population = Population()
        self._starts: dict[str, deque[tuple[int, int, int]]] = {}  # user -> (bucket, time, score before)
        self._cached_median: tuple[int | None, float] | None = None

    def observe(self, obs: Observation, now_us: int) -> Flag | None:
        bucket = now_us // self._bucket_us
        if bucket != self._current:
            self._advance(bucket)
        user = obs.user_id
        starts = self._starts.get(user)
        if starts is None:
            starts = self._starts[user] = deque()
        if not starts or starts[-1][0] != bucket:
            starts.append((bucket, now_us, obs.score_after - obs.points))
        while starts[0][0] <= bucket - self.config.jump_buckets:
            starts.popleft()
        previous = self._scores.get(user)
        if previous is None:
            self._population.add(obs.score_after)
            self._last_seen[bucket].add(user)
        else:
            self._population.move(previous[0], obs.score_after)
            if previous[1] != bucket:
                self._last_seen[previous[1]].discard(user)
                self._last_seen[bucket].add(user)
        self._scores[user] = (obs.score_after, bucket)
        return self._judge(obs, starts[0])

    def _advance(self, bucket: int) -> None:
        self._current = bucket
        oldest = bucket - self.config.active_buckets
        while self._order and self._order[0] <= oldest:
            for user in self._last_seen.pop(self._order.popleft()):
                self._population.remove(self._scores.pop(user)[0])
                del self._starts[user]
        self._order.append(bucket)
        self._last_seen[bucket] = set()

    def _median(self) -> float:
        """The active users' median score, computed at most once per bucket (at a deterministic point)."""
        if self._cached_median is None or self._cached_median[0] != self._current:
            self._cached_median = (self._current, self._population.quantile(0.5))
        return self._cached_median[1]

    def _judge(self, obs: Observation, start: tuple[int, int, int]) -> Flag | None:
        config, population = self.config, self._population
        _, since_us, score_before = start
        gain = obs.score_after - score_before
        if population.count < config.min_population or gain < max(config.min_gain, 1):
            return None
        median = self._median()
        if score_before >= median:
            return None
        above = population.count_above(obs.score_after)
        if above >= config.top_n:
            return None
        summary = population.summary()
        minutes = max((obs.at_us - since_us) // (60 * SECOND_US), 0)
        evidence: dict[str, object] = {
            "summary": (f"score rose from {score_before} (below the median {median:.0f} of {population.count} "
                        f"active users) to {obs.score_after}, into the top {config.top_n}, within "
                        f"{minutes} min"),
            "window_seconds": config.jump_seconds,
            "user": {"score": obs.score_after, "score_at_window_start": score_before, "gain": gain,
                     "rank": above + 1},
            "population": summary,
            "threshold": {"top_n": config.top_n, "below": "median", "median": round(median, 1),
                          "min_gain": config.min_gain},
            "minutes": minutes,
        }
        return Flag(obs.user_id, self.name, obs.at_us, since_us, config.shadow, evidence)
