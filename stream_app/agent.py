"""The Faust agent: take a batch, hand it to the pipeline, let Faust ack it only when it is durable.

Faust's ``take_events`` acks a batch when the loop asks for the next one, and also when the loop
exits by an exception. So a batch is never allowed to fail out of the loop: transient errors are
retried here, a cancelled (stopping) worker first finishes the batch in hand, and anything else ends
the process at once (``os._exit``), before Faust could commit an offset it must not commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import faust
import psycopg
import redis.exceptions

from scoreboard.errors import DependencyUnavailable
from stream_app.pipeline import BatchReport, Pipeline, RawRecord

if TYPE_CHECKING:
    from stream_app.observability import WorkerMetrics

log = logging.getLogger(__name__)
TRANSIENT = (psycopg.OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
             DependencyUnavailable, OSError)
EXIT_UNEXPECTED = 70


async def process_until_durable(
    process: Callable[[Sequence[RawRecord]], Awaitable[BatchReport]],
    records: Sequence[RawRecord],
    *,
    max_backoff_s: float = 5.0,
) -> BatchReport:
    """Retry the batch through transient failures; it returns only when every effect is durable."""
    delay = 0.1
    while True:
        try:
            return await process(records)
        except TRANSIENT as exc:
            log.warning("batch of %d failed transiently, retrying in %.1fs: %r", len(records), delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)


def attach_agent(app: faust.App, topic: faust.TopicT, pipeline: Pipeline, batch_size: int,
                 batch_wait_s: float, prepare: Callable[[], Awaitable[None]],
                 metrics: WorkerMetrics | None = None) -> None:
    async def score(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        await prepare()
        async for events in stream.take_events(batch_size, within=batch_wait_s):  # type: ignore[attr-defined]
            records = [
                RawRecord(e.message.key, e.message.value, e.message.partition, e.message.offset)
                for e in events
            ]
            started = time.perf_counter()
            task = asyncio.ensure_future(process_until_durable(pipeline.process, records))
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
                "ms": round(elapsed * 1000, 2), "event_ids": report.event_ids[:20],
                "request_ids": report.request_ids[:20]}})
            if metrics is not None:
                metrics.observe(report, len(records), elapsed)
                for event in events:
                    tp = event.message.tp
                    metrics.lag.labels(str(tp.partition)).set(
                        max(0, app.consumer.highwater(tp) - event.message.offset - 1))
            yield None

    app.agent(topic, name="score-actions", concurrency=1)(score)
