"""The worker's consumer lag: computed from the broker's end offsets and the worker's position, and set
on a timer, so it keeps rising while the worker stalls instead of freezing at its last batch."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from stream_app.lag import LAG_INTERVAL_S, LagTimer, attach_lag_timer, consumer_lag
from stream_app.observability import WorkerMetrics


def test_the_lag_is_the_end_offset_minus_the_furthest_known_position() -> None:
    """Processed (this worker) and committed (the group) both count, whichever is further."""
    assert consumer_lag({0: 100, 1: 100, 2: 100}, processed={0: 90, 1: 40}, committed={0: 80, 1: 60, 2: 100},
                        earliest={}) == {0: 10, 1: 40, 2: 0}


def test_with_no_position_the_lag_counts_from_the_first_offset() -> None:
    """A group that never committed on a partition starts at its first offset (auto reset earliest)."""
    assert consumer_lag({0: 100}, processed={}, committed={0: None}, earliest={0: 30}) == {0: 70}


def test_unknown_ends_or_positions_are_left_out_and_the_lag_is_never_negative() -> None:
    assert consumer_lag({0: -1, 1: 50, 2: 10}, processed={2: 12}, committed={0: 5, 1: None}, earliest={}) \
        == {2: 0}


class FakeOffsets:
    """The broker and consumer as the timer sees them: assignment, end, first and committed offsets."""

    def __init__(self, ends: dict[int, int], committed: dict[int, int | None] | None = None) -> None:
        self.ends = ends
        self.committed_offsets = committed or {}
        self.first = dict.fromkeys(ends, 0)
        self.fail: Exception | None = None

    def assigned(self) -> list[int]:
        return sorted(self.ends)

    async def end_offsets(self, partitions: Sequence[int]) -> Mapping[int, int]:
        if self.fail is not None:
            raise self.fail
        return {p: self.ends[p] for p in partitions}

    async def start_offsets(self, partitions: Sequence[int]) -> Mapping[int, int]:
        return {p: self.first[p] for p in partitions}

    def committed(self, partitions: Sequence[int]) -> Mapping[int, int | None]:
        return {p: self.committed_offsets.get(p) for p in partitions}


def lag(metrics: WorkerMetrics, partition: int) -> float | None:
    return metrics.registry.get_sample_value("scoreboard_worker_consumer_lag", {"partition": str(partition)})


class FakeApp:
    """Collects what ``app.timer(interval)`` registers, as Faust would run it every interval."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Any]] = []

    def timer(self, interval: float, **options: Any) -> Any:
        def register(fun: Any) -> Any:
            self.timers.append((interval, fun))
            return fun
        return register


def test_a_stalled_worker_shows_a_growing_lag() -> None:
    """No batch is processed, yet each tick reads the broker's end offsets again: the lag rises."""
    metrics = WorkerMetrics()
    metrics.processed[0] = 40
    offsets = FakeOffsets({0: 50, 1: 10}, committed={0: 30, 1: 10})
    timer = LagTimer(offsets, metrics)
    asyncio.run(timer.tick())
    assert (lag(metrics, 0), lag(metrics, 1)) == (10, 0)
    offsets.ends = {0: 75, 1: 18}  # producers go on, the worker does not
    asyncio.run(timer.tick())
    assert (lag(metrics, 0), lag(metrics, 1)) == (35, 8)
    metrics.processed.update({0: 75, 1: 18})  # it catches up
    asyncio.run(timer.tick())
    assert (lag(metrics, 0), lag(metrics, 1)) == (0, 0)


def test_a_revoked_partition_loses_its_series_and_its_processed_position() -> None:
    metrics = WorkerMetrics()
    metrics.processed.update({0: 5, 1: 5})
    offsets = FakeOffsets({0: 9, 1: 9})
    timer = LagTimer(offsets, metrics)
    asyncio.run(timer.tick())
    assert lag(metrics, 1) == 4
    del offsets.ends[1]
    asyncio.run(timer.tick())
    assert lag(metrics, 1) is None and lag(metrics, 0) == 4 and 1 not in metrics.processed


def test_a_failed_measurement_keeps_the_last_values_and_does_not_raise() -> None:
    metrics = WorkerMetrics()
    offsets = FakeOffsets({0: 9}, committed={0: 2})
    timer = LagTimer(offsets, metrics)
    asyncio.run(timer.tick())
    offsets.fail = ConnectionError("broker gone")
    asyncio.run(timer.tick())
    assert lag(metrics, 0) == 7


def test_the_worker_registers_the_lag_timer_every_few_seconds() -> None:
    """``attach_lag_timer`` hands Faust a periodic tick that measures the app's consumer."""
    app, metrics = FakeApp(), WorkerMetrics()
    attach_lag_timer(app, "scoreboard.actions.v1", metrics)
    [(interval, tick)] = app.timers
    assert interval == LAG_INTERVAL_S <= 10

    class TP:
        def __init__(self, topic: str, partition: int) -> None:
            self.topic, self.partition = topic, partition

    tps = [TP("scoreboard.actions.v1", 0), TP("other", 0)]

    class Consumer:
        _committed_offset = {tps[0]: 3}

        def assignment(self) -> set[TP]:
            return set(tps)

        async def highwaters(self, *partitions: TP) -> dict[TP, int]:
            return {tp: 10 for tp in partitions}

        async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
            raise AssertionError("the committed offset is known")

    app.consumer = Consumer()  # type: ignore[attr-defined]
    asyncio.run(tick())
    assert lag(metrics, 0) == 7
