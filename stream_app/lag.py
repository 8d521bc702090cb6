"""Consumer lag per assigned partition, measured on a timer from the broker's high watermarks.

A gauge set after each batch freezes exactly when it matters: a stalled worker processes no batch.
So the lag is set every ``LAG_INTERVAL_S`` instead, from the partition's end offset as the broker
answers it now (a ListOffsets request: the fetcher's cached high watermark stops moving too when the
fetcher pauses) minus the worker's position in it: the offset after the last record it made durable,
or, before its first batch on the partition, the group's committed offset (the partition's first
offset if the group never committed one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from stream_app.observability import WorkerMetrics

log = logging.getLogger(__name__)
LAG_INTERVAL_S = 5.0
OFFSETS_TIMEOUT_S = 10.0
"""A tick whose offset requests take longer gives up; the gauge keeps its last values meanwhile."""


def consumer_lag(end_offsets: Mapping[int, int], processed: Mapping[int, int],
                 committed: Mapping[int, int | None], earliest: Mapping[int, int]) -> dict[int, int]:
    """Records behind the end, per partition of ``end_offsets`` (offsets are "the next record's").

    The position is the furthest of ``processed`` (after this worker's last durable record) and
    ``committed`` (the group's); with neither, ``earliest`` (where a new group starts reading). A
    partition whose end or position is unknown is left out; the lag is never negative."""
    lags: dict[int, int] = {}
    for partition, end in end_offsets.items():
        if end < 0:
            continue
        known = [offset for offset in (processed.get(partition), committed.get(partition))
                 if offset is not None and offset >= 0]
        position = max(known) if known else earliest.get(partition)
        if position is None:
            continue
        lags[partition] = max(0, end - position)
    return lags


class PartitionOffsets(Protocol):
    """What the lag timer asks of the consumer: ``FaustOffsets``, or a fake in tests."""

    def assigned(self) -> list[int]:
        """The partitions of the actions topic assigned to this worker now."""

    async def end_offsets(self, partitions: Sequence[int]) -> Mapping[int, int]:
        """Their high watermarks, asked of the broker."""

    async def start_offsets(self, partitions: Sequence[int]) -> Mapping[int, int]:
        """Their first offsets, asked of the broker."""

    def committed(self, partitions: Sequence[int]) -> Mapping[int, int | None]:
        """The group's committed offsets, as the consumer last read or wrote them."""


class FaustOffsets:
    """``PartitionOffsets`` of a Faust app's consumer, for one topic."""

    def __init__(self, app: Any, topic: str) -> None:
        self._app = app
        self._topic = topic

    def _tps(self, partitions: Sequence[int]) -> list[Any]:
        wanted = set(partitions)
        return [tp for tp in self._app.consumer.assignment() if tp.topic == self._topic and tp.partition in wanted]

    def assigned(self) -> list[int]:
        return sorted(tp.partition for tp in self._app.consumer.assignment() if tp.topic == self._topic)

    async def end_offsets(self, partitions: Sequence[int]) -> Mapping[int, int]:
        found = await self._app.consumer.highwaters(*self._tps(partitions))
        return {tp.partition: offset for tp, offset in found.items()}

    async def start_offsets(self, partitions: Sequence[int]) -> Mapping[int, int]:
        found = await self._app.consumer.earliest_offsets(*self._tps(partitions))
        return {tp.partition: offset for tp, offset in found.items()}

    def committed(self, partitions: Sequence[int]) -> Mapping[int, int | None]:
        # Faust keeps the group's committed offsets (read when a partition is assigned, updated on each
        # commit) only in this private map; without it the processed positions and first offsets remain.
        known = getattr(self._app.consumer, "_committed_offset", {})
        return {tp.partition: known.get(tp) for tp in self._tps(partitions)}


class LagTimer:
    """Sets ``scoreboard_worker_consumer_lag`` per assigned partition each ``tick``; a partition no
    longer assigned loses its series (and its processed position, which another worker moves on)."""

    def __init__(self, offsets: PartitionOffsets, metrics: WorkerMetrics) -> None:
        self._offsets = offsets
        self._metrics = metrics
        self._shown: set[int] = set()
        self._failing = False

    async def tick(self) -> None:
        """Never raises: a failed measurement is logged (once until one succeeds) and skipped."""
        try:
            partitions = self._offsets.assigned()
            lags = await asyncio.wait_for(self._measure(partitions), OFFSETS_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a missed measurement must not stop the worker
            if not self._failing:
                log.warning("could not measure the consumer lag: %r", exc)
            self._failing = True
            return
        self._failing = False
        for partition, lag in lags.items():
            self._metrics.lag.labels(str(partition)).set(lag)
        for gone in self._shown - set(partitions):
            self._metrics.lag.remove(str(gone))
        self._shown = (self._shown | set(lags)) & set(partitions)

    async def _measure(self, partitions: list[int]) -> dict[int, int]:
        processed = self._metrics.processed
        for gone in set(processed) - set(partitions):
            del processed[gone]
        if not partitions:
            return {}
        ends = await self._offsets.end_offsets(partitions)
        committed = self._offsets.committed(partitions)
        unknown = [p for p in partitions if p not in processed and committed.get(p) is None]
        earliest = await self._offsets.start_offsets(unknown) if unknown else {}
        return consumer_lag(ends, processed, committed, earliest)


def attach_lag_timer(app: Any, topic: str, metrics: WorkerMetrics, interval_s: float = LAG_INTERVAL_S) -> LagTimer:
    """Measure the lag of ``topic``'s assigned partitions every ``interval_s`` while the worker runs."""
    timer = LagTimer(FaustOffsets(app, topic), metrics)
    app.timer(interval_s, name="consumer-lag")(timer.tick)
    return timer
