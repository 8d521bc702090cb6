"""Velocity: a user's points in a sliding window against the population's points in the same window."""

from __future__ import annotations

from collections import deque

from scoreboard.domain.detectors.config import SECOND_US, VelocityConfig
from scoreboard.domain.detectors.population import Population, Stats, bucket_of
from scoreboard.domain.detectors.records import Flag, Observation

_NORMAL_MAD = 0.6745    # MAD of a standard normal: modified z = 0.6745 (x - median) / MAD
_NORMAL_P90 = 1.2816    # (p90 - median) of a standard normal
_NORMAL_P95 = 1.6449    # (p95 - median) of a standard normal
_NORMAL_P99 = 2.3263    # (p99 - median) of a standard normal


class VelocityDetector:
    """Per bucket of event time, each user's points; per user, the sum over the window; the population
    histogram of those sums. Only the observed user is judged, so the cost per action is O(log n)."""

    name = "velocity"

    def __init__(self, config: VelocityConfig) -> None:
        self.config = config
        self._bucket_us = config.bucket_seconds * SECOND_US
        self._current: int | None = None
        self._buckets: deque[tuple[int, dict[str, list[int]]]] = deque()
        self._sums: dict[str, list[int]] = {}    # user -> [points, actions] in the window
        self._population = Population()
        # the user's recent judgements, for "sustained": user -> [bucket, outlier count, ordinary count]
        self._judged: dict[str, deque[list[int]]] = {}
        self._judged_expiry: deque[tuple[int, str]] = deque()
        self._cache: tuple[int | None, Stats, float] | None = None

    def observe(self, obs: Observation, now_us: int) -> Flag | None:
        bucket = now_us // self._bucket_us
        if bucket != self._current:
            self._advance(bucket)
        user = obs.user_id
        here = self._buckets[-1][1].setdefault(user, [0, 0])
        here[0] += obs.points
        here[1] += 1
        total = self._sums.get(user)
        if total is None:
            total = self._sums[user] = [obs.points, 1]
            self._population.add(obs.points)
        else:
            self._population.move(total[0], total[0] + obs.points)
            total[0] += obs.points
            total[1] += 1
        verdict = self._judge(total[0], total[1])
        return self._remember(obs, now_us, bucket, total, verdict)

    def _advance(self, bucket: int) -> None:
        self._current = bucket
        oldest = bucket - self.config.window_buckets
        while self._buckets and self._buckets[0][0] <= oldest:
            for user, (points, actions) in self._buckets.popleft()[1].items():
                total = self._sums[user]
                total[1] -= actions
                if total[1]:
                    self._population.move(total[0], total[0] - points)
                    total[0] -= points
                else:
                    self._population.remove(total[0])
                    del self._sums[user]
        self._buckets.append((bucket, {}))
        forgotten = bucket - 2 * self.config.sustain_buckets
        while self._judged_expiry and self._judged_expiry[0][0] <= forgotten:
            user = self._judged_expiry.popleft()[1]
            marks = self._judged.get(user)
            while marks and marks[0][0] <= forgotten:
                marks.popleft()
            if marks is not None and not marks:
                del self._judged[user]

    def _judge(self, points: int, actions: int) -> tuple[dict[str, object], Stats] | None:
        """The figures if this user is an outlier now, else None (cheap gates first)."""
        config, population = self.config, self._population
        if population.count < config.min_population or points < config.min_points or actions < config.min_events:
            return None
        if population.count_below(bucket_of(points)) < config.quantile * (population.count - 1):
            return None  # not above the quantile of the others
        stats, high = self._statistics()
        median = stats.median
        if stats.mad > 0:
            scale, basis = stats.mad / _NORMAL_MAD, "mad"
        else:  # MAD = 0: most users share one figure; the nearest upper percentile that differs gives the scale
            scale, basis = max(1.0, 0.05 * median), "floor"
            for name, value, normal in (("p90", stats.p90, _NORMAL_P90), ("p95", stats.p95, _NORMAL_P95),
                                        ("p99", stats.p99, _NORMAL_P99)):
                if value > median:
                    scale, basis = (value - median) / normal, name
                    break
        z = (points - median) / scale
        if z < config.cutoff:
            return None
        figures: dict[str, object] = {"z": round(z, 2), "median": round(median, 1), "mad": round(stats.mad, 1),
                                      "scale_basis": basis, "quantile_value": round(high, 1)}
        return figures, stats

    def _statistics(self) -> tuple[Stats, float]:
        """The population's figures, computed at most once per bucket: at the first action in the bucket
        that needs them (a deterministic point of the log, so restarts see the same figures)."""
        if self._cache is None or self._cache[0] != self._current:
            population = self._population
            self._cache = (self._current, population.stats(), population.quantile(self.config.quantile))
        return self._cache[1], self._cache[2]

    def _remember(self, obs: Observation, now_us: int, bucket: int, total: list[int],
                  verdict: tuple[dict[str, object], Stats] | None) -> Flag | None:
        marks = self._judged.get(obs.user_id)
        if verdict is None and marks is None:
            return None  # ordinary judgements only matter once the user has been an outlier
        if marks is None:
            marks = self._judged[obs.user_id] = deque()
        if not marks or marks[-1][0] != bucket:
            marks.append([bucket, 0, 0])
            self._judged_expiry.append((bucket, obs.user_id))
        marks[-1][1 if verdict is not None else 2] += 1
        if verdict is None:
            return None
        recent_from = bucket - self.config.sustain_buckets
        outliers = sum(m[1] for m in marks if m[0] > recent_from)
        ordinary = sum(m[2] for m in marks if m[0] > recent_from)
        earlier = [m[0] for m in marks if m[0] <= recent_from and m[1]]
        if ordinary or outliers < self.config.sustain_events or not earlier:
            return None
        return self._flag(obs, now_us, bucket, total, verdict, earlier[0])

    def _flag(self, obs: Observation, now_us: int, bucket: int, total: list[int],
              verdict: tuple[dict[str, object], Stats], first_outlier_bucket: int) -> Flag:
        config = self.config
        window_start = (bucket - config.window_buckets + 1) * self._bucket_us
        since = min(window_start, first_outlier_bucket * self._bucket_us)
        figures, stats = verdict
        population = stats.summary()
        sustained = (now_us - first_outlier_bucket * self._bucket_us) // SECOND_US
        evidence: dict[str, object] = {
            "summary": (f"{total[0]} points from {total[1]} actions in the last {config.window_seconds // 60} "
                        f"min, modified z {figures['z']} against {population['n']} active users "
                        f"(median {figures['median']}, p99 {population['p99']}), an outlier for {sustained} s"),
            "window_seconds": config.window_seconds,
            "user": {"points": total[0], "actions": total[1]},
            "population": population,
            "threshold": {"cutoff": config.cutoff, "quantile": config.quantile, "min_points": config.min_points,
                          "min_events": config.min_events, "sustain_seconds": config.sustain_seconds},
            "sustained_seconds": sustained,
            **figures,
        }
        return Flag(obs.user_id, self.name, obs.at_us, since, config.shadow, evidence)
