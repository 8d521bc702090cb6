"""How often one client address may open a subscription: a token bucket per address, in memory.

Each gateway counts for itself (a client spread over N gateways gets N times the rate); that is
enough to stop one host's reconnect storm from taking a gateway's accept loop and snapshots. Buckets
that have refilled are forgotten, so many addresses seen once do not accumulate.
"""

from __future__ import annotations

import math

_MIN_SWEEP = 1024


class ConnectRate:
    """``per_second`` connects on average per address, ``burst`` at once; a rate of 0 switches it off."""

    def __init__(self, per_second: float, burst: int) -> None:
        self._rate = per_second
        self._burst = float(max(burst, 1))
        self._buckets: dict[str, tuple[float, int]] = {}
        """address -> (tokens, at microseconds)"""
        self._sweep_at = _MIN_SWEEP

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def take(self, client: str, now_us: int) -> int:
        """0 when ``client`` may connect now (a token is taken), else the seconds until it may."""
        if not self.enabled:
            return 0
        tokens = self._tokens(client, now_us)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now_us)
            return max(1, math.ceil((1.0 - tokens) / self._rate))
        self._buckets[client] = (tokens - 1.0, now_us)
        if len(self._buckets) >= self._sweep_at:
            self._forget_full(now_us)
        return 0

    def tracked(self) -> int:
        """How many addresses have a bucket that is not full."""
        return len(self._buckets)

    def _tokens(self, client: str, now_us: int) -> float:
        found = self._buckets.get(client)
        if found is None:
            return self._burst
        tokens, at_us = found
        elapsed_s = max(0, now_us - at_us) / 1_000_000  # a wall clock stepped back refills nothing
        return min(self._burst, tokens + elapsed_s * self._rate)

    def _forget_full(self, now_us: int) -> None:
        """A full bucket is the same as none: drop them (amortised: the next sweep waits for twice as many)."""
        for client in [c for c in self._buckets if self._tokens(c, now_us) >= self._burst]:
            del self._buckets[client]
        self._sweep_at = max(_MIN_SWEEP, 2 * len(self._buckets))
