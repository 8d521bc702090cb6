"""A population's distribution in O(log n): a log-bucket histogram over a Fenwick tree.

Values 0..127 have a bucket each (exact); above, buckets grow by 1% so any quantile is within 1% of the
truth. Counts are integers, so the histogram is the same whatever order values came and went in: the
detectors' restart property rests on that."""

from __future__ import annotations

import math
from dataclasses import dataclass

_EXACT = 128
_GROWTH = 1.01
_LOG_GROWTH = math.log(_GROWTH)
_SIZE = 4096  # covers values up to ~128 * 1.01 ** 3968, far beyond any score


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    mad: float
    p90: float
    p95: float
    p99: float

    def summary(self) -> dict[str, object]:
        return {"n": self.n, "p50": round(self.median, 1), "p90": round(self.p90, 1), "p99": round(self.p99, 1)}


def _bucket_by_log(value: int) -> int:
    if value < _EXACT:
        return max(value, 0)
    return min(_EXACT + int(math.log(value / _EXACT) / _LOG_GROWTH), _SIZE - 1)


_TABLE = [_bucket_by_log(value) for value in range(1 << 15)]  # the common values, without a log each


def bucket_of(value: int) -> int:
    if 0 <= value < 32768:
        return _TABLE[value]
    return _bucket_by_log(value)


def bucket_of_real(value: float) -> int:
    """The bucket a real value falls in (a bucket's own representative value maps back to it)."""
    if value < _EXACT:
        return max(int(value), 0)
    return min(_EXACT + int(math.log(value / _EXACT) / _LOG_GROWTH + 1e-9), _SIZE - 1)


def value_of(bucket: int) -> float:
    """The bucket's representative value (its lower bound; exact below 128)."""
    if bucket < _EXACT:
        return float(bucket)
    return _EXACT * _GROWTH ** (bucket - _EXACT)


class Population:
    """A multiset of non-negative integers (negative ones count as 0) with rank and quantile queries."""

    __slots__ = ("_tree", "count")

    def __init__(self) -> None:
        self._tree = [0] * (_SIZE + 1)
        self.count = 0

    def add(self, value: int, times: int = 1) -> None:
        self.count += times
        self._shift(bucket_of(value) + 1, times)

    def remove(self, value: int) -> None:
        self.add(value, -1)

    def move(self, old: int, new: int) -> None:
        """Replace one ``old`` value by ``new`` (free when both fall in the same bucket)."""
        before, after = bucket_of(old), bucket_of(new)
        if before != after:
            self._shift(before + 1, -1)
            self._shift(after + 1, 1)

    def _shift(self, i: int, times: int) -> None:
        tree, size = self._tree, _SIZE
        while i <= size:
            tree[i] += times
            i += i & -i

    def count_below(self, bucket: int) -> int:
        """How many values fall in buckets < ``bucket``."""
        total, i, tree = 0, min(bucket, _SIZE), self._tree
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def count_above(self, value: int) -> int:
        """How many values fall in buckets above ``value``'s (values within 1% count as equal)."""
        return self.count - self.count_below(bucket_of(value) + 1)

    def kth_bucket(self, k: int) -> int:
        """The bucket of the k-th smallest value (1-based)."""
        position, remaining, step, tree = 0, k, 1 << (_SIZE.bit_length() - 1), self._tree
        while step:
            nxt = position + step
            if nxt <= _SIZE and tree[nxt] < remaining:
                position = nxt
                remaining -= tree[nxt]
            step >>= 1
        return position

    def quantile(self, q: float) -> float:
        if self.count == 0:
            return 0.0
        k = min(max(math.ceil(q * self.count), 1), self.count)
        return value_of(self.kth_bucket(k))

    def mad(self, median: float) -> float:
        """Median absolute deviation from ``median``, to the histogram's resolution (a binary search over
        bucket-sized distances: O(log² buckets))."""
        if self.count == 0:
            return 0.0
        need = math.ceil(self.count / 2)
        low, high = 0, bucket_of_real(max(value_of(self.kth_bucket(self.count) + 1) - median, median)) + 1
        while low < high:  # the smallest distance bucket whose interval around the median holds half
            mid = (low + high) // 2
            if self._within(median, value_of(mid)) >= need:
                high = mid
            else:
                low = mid + 1
        return value_of(low)

    def _within(self, center: float, distance: float) -> int:
        """How many values lie in the buckets of [center - distance, center + distance]."""
        top = bucket_of_real(center + distance) + 1
        bottom = bucket_of_real(center - distance) if center > distance else 0
        return self.count_below(top) - self.count_below(bottom)

    def stats(self) -> Stats:
        """The figures a detector compares a user against, in one pass."""
        median = self.quantile(0.5)
        return Stats(self.count, median, self.mad(median), self.quantile(0.9), self.quantile(0.95),
                     self.quantile(0.99))

    def summary(self) -> dict[str, object]:
        return {"n": self.count, "p50": round(self.quantile(0.5), 1), "p90": round(self.quantile(0.9), 1),
                "p99": round(self.quantile(0.99), 1)}
