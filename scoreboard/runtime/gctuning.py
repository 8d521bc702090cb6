"""Cyclic garbage collection tuned for throughput: api, worker, gateway and the rebuild.

With CPython's default thresholds (700, 10, 10) the young generation is collected every 700 net
allocations. The api allocates a few hundred objects per request (scopes, headers, futures, events)
that all die with the request, so the collector ran every couple of requests, costing CPU, and its
full collections were the api's latency tail; over the gateway's thousands of connections they were
most of the fan-out's p99. The rebuild allocates several objects per replayed event. All of them now
collect the young generation every ``YOUNG_THRESHOLD`` allocations. The collector still runs, only
less often, so memory stays bounded: at most that many young objects wait for a collection. What it
saved: steps 7 and 10 and the rebuild's GC row of "What changed, in order, each measured" in
docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_THRESHOLD = 50_000


def collect_less_often() -> None:
    """For a long-running service, once its start-up is done: what exists now (modules, the app,
    its clients) is frozen out of every later collection, and young collections become rarer."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Rarer young collections for the duration of a batch job; the previous thresholds come back after."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
