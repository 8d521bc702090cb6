"""The Faust agent: take a batch, hand it to the pipeline, let Faust ack it only when it is durable.

Faust's ``take_events`` acks a batch when the loop asks for the next one, and also when the loop
exits by an exception. So a batch is never allowed to fail out of the loop: transient errors are
retried here, a cancelled (stopping) worker first finishes the batch in hand, and anything else ends
the process at once (``os._exit``), before Faust could commit an offset it must not commit.

A batch that fails for a reason that is not transient is split (halves, in order, recursively) until
the one record that fails alone is isolated: that record is set aside (``scoreboard.rejected.v1``,
reason ``poison: ...``) and the rest is processed, so no single record stalls a partition. Only errors
that say nothing about the records (a missing table, a bad configuration) still end the process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import faust
import psycopg
import redis.exceptions

from scoreboard.domain.errors import (
    ConfigurationError,
    DependencyUnavailable,
    ScoreboardError,
)
from stream_app.pipeline import BatchReport, Pipeline, RawRecord, header_pairs

if TYPE_CHECKING:
    from stream_app.observability import BatchHealth, WorkerMetrics

log = logging.getLogger(__name__)
TRANSIENT = (psycopg.OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
             DependencyUnavailable, OSError)
REDIS_TRANSIENT_REPLIES = frozenset({"READONLY", "OOM", "MISCONF", "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                     "CLUSTERDOWN"})
"""Error replies of a Redis that cannot take writes *now*: a replica after a failover (``READONLY``),
``maxmemory`` reached (``OOM``), a failed RDB save with ``stop-writes-on-bgsave-error`` (``MISCONF``),
a dataset still loading, a busy script, a cluster re-forming."""
ENVIRONMENT_ERRORS = (psycopg.ProgrammingError, psycopg.InterfaceError, psycopg.NotSupportedError,
                      ConfigurationError, MemoryError)
"""Failures that say nothing about the records (a missing table or privilege, a bad setting): setting
records aside for them would set aside every record, so the process ends instead."""
EXIT_UNEXPECTED = 70
POISON_CODE = "poison"


def is_transient(exc: BaseException) -> bool:
    """An error of the environment that passes: retry the same batch later."""
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return True
    if isinstance(exc, redis.exceptions.ResponseError):
        return str(exc).split(" ", 1)[0] in REDIS_TRANSIENT_REPLIES
    if isinstance(exc, ScoreboardError) and exc.retriable:
        return True
    return isinstance(exc, TRANSIENT)


def is_about_the_environment(exc: BaseException) -> bool:
    """A non-transient error that no record can cause: the worker exits rather than set records aside."""
    return isinstance(exc, ENVIRONMENT_ERRORS)


async def process_until_durable(
    process: Callable[[Sequence[RawRecord]], Awaitable[BatchReport]],
    records: Sequence[RawRecord],
    *,
    max_backoff_s: float = 5.0,
    health: BatchHealth | None = None,
) -> BatchReport:
    """Retry the batch through transient failures; it returns only when every effect is durable.
    While it retries, ``health.retrying`` is set (the worker's ``/readyz`` answers 503)."""
    delay = 0.1
    while True:
        try:
            report = await process(records)
        except Exception as exc:
            if not is_transient(exc):
                raise
            if health is not None:
                health.failed(exc)
            log.warning("batch of %d failed transiently, retrying in %.1fs: %r", len(records), delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)
            continue
        if health is not None:
            health.succeeded()
        return report


def merge_reports(first: BatchReport, second: BatchReport) -> BatchReport:
    """The report of two consecutive parts of a batch: counts added, lists concatenated."""
    merged: dict[str, Any] = {}
    for field in dataclasses.fields(first):
        a, b = getattr(first, field.name), getattr(second, field.name)
        if field.name == "stage_seconds":
            merged[field.name] = tuple(x + y for x, y in zip(a, b, strict=True))
        else:
            merged[field.name] = a + b if isinstance(a, (int, tuple)) else b
    return type(first)(**merged)


def poison_report() -> BatchReport:
    """What a record set aside as poison adds to the batch's report: one rejection."""
    return BatchReport(accepted=0, replayed=0, duplicates=0, rejected=1, boards_changed=0,
                       rejection_reasons=(POISON_CODE,))


async def process_isolating_poison(
    process: Callable[[Sequence[RawRecord]], Awaitable[BatchReport]],
    set_aside: Callable[[RawRecord, BaseException], Awaitable[None]],
    records: Sequence[RawRecord],
) -> BatchReport:
    """Process ``records``; if that fails non-transiently, process each half (in order, recursively)
    until the record that fails on its own is found, set it aside, and go on with the rest in order.

    ``process`` retries transient failures itself if it wants them retried (``process_until_durable``);
    a transient error, one that ``is_about_the_environment``, and anything not an ``Exception`` (a
    cancellation) propagate: they say nothing about the records. Records before the poison one are
    durable when it is set aside; records after it are processed only after it is set aside.
    """
    try:
        return await process(records)
    except Exception as exc:
        if is_transient(exc) or is_about_the_environment(exc) or not records:
            raise
        if len(records) == 1:
            record = records[0]
            log.error("record p%d@%d is poison (it fails on its own), setting it aside: %r",
                      record.partition, record.offset, exc)
            await set_aside(record, exc)
            return poison_report()
        log.warning("batch of %d failed (%r): splitting it to isolate the record that fails", len(records), exc)
    middle = len(records) // 2
    first = await process_isolating_poison(process, set_aside, records[:middle])
    second = await process_isolating_poison(process, set_aside, records[middle:])
    return merge_reports(first, second)


async def set_aside_until_done(
    set_aside: Callable[[RawRecord, BaseException], Awaitable[None]],
    record: RawRecord,
    error: BaseException,
    *,
    max_backoff_s: float = 5.0,
    health: BatchHealth | None = None,
) -> None:
    """Set the record aside, retrying with backoff whatever the failure: a poison record is never dropped
    unrecorded (its partition waits meanwhile, and ``/readyz`` answers 503)."""
    delay = 0.1
    while True:
        try:
            await set_aside(record, error)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the record must not be dropped
            if health is not None:
                health.failed(exc)
            log.warning("setting aside p%d@%d failed, retrying in %.1fs: %r", record.partition, record.offset,
                        delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)
            continue
        if health is not None:
            health.succeeded()
        return


def raw_record(message: Any) -> RawRecord:
    """A Faust message as the pipeline takes it (Faust gives the timestamp in seconds)."""
    timestamp_us = int(round(message.timestamp * 1_000_000)) if message.timestamp and message.timestamp > 0 else 0
    return RawRecord(message.key, message.value, message.partition, message.offset, header_pairs(message.headers),
                     timestamp_us)


def attach_agent(app: faust.App, topic: faust.TopicT, pipeline: Pipeline, batch_size: int,
                 batch_wait_s: float, prepare: Callable[[], Awaitable[None]],
                 metrics: WorkerMetrics | None = None) -> None:
    health = metrics.health if metrics is not None else None

    async def durably(batch: Sequence[RawRecord]) -> BatchReport:
        return await process_until_durable(pipeline.process, batch, health=health)

    async def set_aside(record: RawRecord, error: BaseException) -> None:
        await set_aside_until_done(pipeline.set_aside, record, error, health=health)
        if metrics is not None:
            metrics.poison.inc()

    async def score(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        await prepare()
        async for events in stream.take_events(batch_size, within=batch_wait_s):  # type: ignore[attr-defined]
            records = [raw_record(e.message) for e in events]
            started = time.perf_counter()
            task = asyncio.ensure_future(process_isolating_poison(durably, set_aside, records))
            try:
                report = await asyncio.shield(task)
            except asyncio.CancelledError:
                log.info("stopping: finishing the batch in hand first")
                try:
                    await task
                except BaseException:
                    log.exception("the batch in hand did not finish; exiting before any commit")
                    os._exit(EXIT_UNEXPECTED)
                raise
            except BaseException:
                log.exception("unexpected failure in a batch; exiting before any commit")
                os._exit(EXIT_UNEXPECTED)
            elapsed = time.perf_counter() - started
            log.info("batch", extra={"fields": {
                "records": len(records), "accepted": report.accepted, "duplicates": report.duplicates,
                "replayed": report.replayed, "rejected": report.rejected, "boards_changed": report.boards_changed,
                "ms": round(elapsed * 1000, 2), "stage_ms": [round(t * 1000, 2) for t in report.stage_seconds],
                "event_ids": report.event_ids[:20],
                "request_ids": report.request_ids[:20]}})
            if metrics is not None:
                metrics.observe(report, len(records), elapsed)
                processed = metrics.processed  # the lag timer (stream_app.lag) measures from here
                for record in records:
                    processed[record.partition] = max(processed.get(record.partition, 0), record.offset + 1)
            yield None

    app.agent(topic, name="score-actions", concurrency=1)(score)
