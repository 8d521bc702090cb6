"""Small statistics the simulation reports: the exact binomial upper bound and burstiness."""

from __future__ import annotations

import math
from collections.abc import Sequence


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if k >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(min(k, n) + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p
                          + (n - i) * log_q)
    return min(total, 1.0)


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """The exact (Clopper-Pearson) one-sided upper bound of a rate seen ``k`` times in ``n`` trials:
    the largest p with P(X <= k) >= 1 - confidence. For k = 0 it is 1 - (1 - confidence)^(1/n),
    about 3/n at 95% (the rule of three)."""
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    alpha = 1 - confidence
    if k == 0:
        return 1.0 - float(alpha ** (1 / n))
    low, high = k / n, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if binomial_cdf(k, n, middle) > alpha:
            low = middle
        else:
            high = middle
    return high


def burstiness(intervals: Sequence[float]) -> float | None:
    """B = (σ − μ)/(σ + μ) of inter-event times, corrected for the series' length (Kim & Jo, 2016):
    −1 periodic, 0 Poisson, > 0 bursty. None for fewer than three intervals."""
    n = len(intervals)
    if n < 3:
        return None
    mean = sum(intervals) / n
    if mean <= 0:
        return None
    sigma = math.sqrt(sum((x - mean) ** 2 for x in intervals) / n)
    r = sigma / mean
    a, b = math.sqrt(n + 1), math.sqrt(n - 1)
    return (a * r - b) / ((a - 2) * r + b)


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
