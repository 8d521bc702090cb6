"""Regularity: a user's timing for one action with a variance no human has."""

from __future__ import annotations

import math
from collections import deque

from scoreboard.domain.detectors.config import SECOND_US, RegularityConfig
from scoreboard.domain.detectors.records import Flag, Observation

_SWEEP_US = 60 * SECOND_US  # idle series are swept once per minute of event time


def corrected_burstiness(cv: float, events: int) -> float:
    """Kim & Jo (2016) burstiness for ``events`` events whose gaps have coefficient of variation ``cv``:
    -1 periodic, 0 Poisson, towards 1 bursty, unbiased for short series (plain (σ-μ)/(σ+μ) is not)."""
    grow, shrink = math.sqrt(events + 1), math.sqrt(events - 1)
    return (grow * cv - shrink) / ((grow - 2) * cv + shrink)


def moments(n: int, total: int, squares: int) -> tuple[float, float]:
    """Mean and (population) standard deviation from exact integer sums (so restarts agree to the bit)."""
    variance = max(n * squares - total * total, 0) / (n * n)
    return total / n, math.sqrt(variance)


class _Series:
    """Event times and the gaps between them, with exact integer sums for an O(1) mean and variance."""

    __slots__ = ("durations", "gap_squares", "gap_sum", "gaps", "times")

    def __init__(self) -> None:
        self.times: deque[int] = deque()                   # len(gaps) + 1 times, oldest first
        self.gaps: deque[int] = deque()
        self.gap_sum = 0
        self.gap_squares = 0
        self.durations: deque[tuple[int, int]] = deque()   # (time, ticket duration)

    def add(self, now_us: int, limit: int) -> None:
        if self.times:
            gap = now_us - self.times[-1]
            self.gaps.append(gap)
            self.gap_sum += gap
            self.gap_squares += gap * gap
        self.times.append(now_us)
        if len(self.gaps) > limit:
            self.drop_oldest()

    def drop_oldest(self) -> None:
        self.times.popleft()
        if self.gaps:
            gap = self.gaps.popleft()
            self.gap_sum -= gap
            self.gap_squares -= gap * gap


class RegularityDetector:
    """Per (user, action): the last ``max_samples`` gaps and ticket durations within the lookback."""

    name = "regularity"

    def __init__(self, config: RegularityConfig) -> None:
        self.config = config
        self._lookback_us = config.lookback_us()
        self._series: dict[tuple[str, str], _Series] = {}
        self._touched: dict[tuple[str, str], int] = {}
        self._sweep: deque[tuple[int, tuple[str, str]]] = deque()

    def observe(self, obs: Observation, now_us: int) -> Flag | None:
        self._forget_idle(now_us)
        key = (obs.user_id, obs.action_id)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
        minute = now_us // _SWEEP_US
        if self._touched.get(key) != minute:
            self._touched[key] = minute
            self._sweep.append((minute, key))
        oldest = now_us - self._lookback_us
        series.add(now_us, self.config.max_samples)
        while series.times[0] <= oldest:
            series.drop_oldest()
        if obs.ticket_started_at_us:
            series.durations.append((now_us, max(obs.at_us - obs.ticket_started_at_us, 0)))
            if len(series.durations) > self.config.max_samples:
                series.durations.popleft()
        while series.durations and series.durations[0][0] <= oldest:
            series.durations.popleft()
        return self._judge_gaps(obs, series) or self._judge_durations(obs, series)

    def _forget_idle(self, now_us: int) -> None:
        # a series untouched for the whole lookback holds nothing a judgement could read
        stale = (now_us - self._lookback_us) // _SWEEP_US - 1
        while self._sweep and self._sweep[0][0] <= stale:
            minute, key = self._sweep.popleft()
            if self._touched.get(key) == minute:
                del self._touched[key]
                del self._series[key]

    def _judge_gaps(self, obs: Observation, series: _Series) -> Flag | None:
        count = len(series.gaps)
        if count < self.config.min_samples:
            return None
        mean, deviation = moments(count, series.gap_sum, series.gap_squares)
        return self._judge(obs, "gaps", count, mean, deviation, series.times[0])

    def _judge_durations(self, obs: Observation, series: _Series) -> Flag | None:
        if len(series.durations) < self.config.min_durations:
            return None
        durations = [d for _, d in series.durations]
        mean, deviation = moments(len(durations), sum(durations), sum(d * d for d in durations))
        first_time, first_duration = series.durations[0]
        return self._judge(obs, "durations", len(durations), mean, deviation, first_time - first_duration)

    def _judge(self, obs: Observation, kind: str, count: int, mean: float, deviation: float,
               since_us: int) -> Flag | None:
        if mean <= 0:
            return None
        cv = deviation / mean
        # n events: gaps come from count + 1 actions; durations are count events of their own
        corrected = corrected_burstiness(cv, count + 1 if kind == "gaps" else count)
        if corrected > self.config.max_burstiness:
            return None
        plain = (deviation - mean) / (deviation + mean)
        what = "gaps between" if kind == "gaps" else "completion times of"
        evidence: dict[str, object] = {
            "summary": (f"{count} {what} {obs.action_id!r} actions average {mean / SECOND_US:.1f} s "
                        f"with a spread of {deviation / SECOND_US:.2f} s (CV {cv:.3f}, burstiness "
                        f"{corrected:.2f}): machine-regular, humans vary far more"),
            "window_seconds": self.config.lookback_seconds,
            "user": {"action_id": obs.action_id, "series": kind, "samples": count,
                     "mean_seconds": round(mean / SECOND_US, 3), "std_seconds": round(deviation / SECOND_US, 3)},
            "population": {},
            "threshold": {"max_burstiness": self.config.max_burstiness,
                          "min_samples": self.config.min_samples if kind == "gaps" else self.config.min_durations},
            "cv": round(cv, 4),
            "burstiness": round(plain, 4),
            "burstiness_corrected": round(corrected, 4),
        }
        return Flag(obs.user_id, self.name, obs.at_us, since_us, self.config.shadow, evidence)
