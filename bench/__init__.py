"""Benchmarks of the Live Scoreboard (issue 8): ``scoreboard bench`` / ``make bench``.

Scenarios (``bench/scenarios``) run against isolated worlds of the local stack and real processes;
baselines (``bench/baselines``) run beside the api under the same server settings; the pure parts
(``stats``, ``matching``, ``results``, ``report``) are unit-tested in ``tests/unit/test_bench_*.py``.
Nothing here is imported by the services.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``scoreboard bench``."""
    from bench.runner import main as run

    return run(argv)
