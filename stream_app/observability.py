"""Worker health, readiness and Prometheus metrics, served by Faust's own web server.

``GET /healthz`` answers while the process runs; ``GET /readyz`` only while Postgres, Redis and Kafka
answer and the batch in hand is not being retried after a transient failure (e.g. a Redis replica
answering ``READONLY``, or ``OOM``); ``GET /metrics``: events by outcome, batch size and latency,
consumer lag per partition (``stream_app.lag``), records set aside as poison, and the standard process
and GC metrics.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from scoreboard.adapters.web.metrics import process_registry
from stream_app.pipeline import BatchReport

log = logging.getLogger(__name__)
Check = Callable[[], Awaitable[bool]]


@dataclass
class BatchHealth:
    """Whether the last attempt at the batch in hand failed transiently (set and cleared by the retry
    loop of ``stream_app.agent``); while it did, the worker is not ready."""

    retrying: bool = False
    last_error: str = ""

    def failed(self, error: BaseException) -> None:
        self.retrying = True
        self.last_error = f"{type(error).__name__}: {error}"[:300]

    def succeeded(self) -> None:
        self.retrying = False
        self.last_error = ""


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = process_registry()
        self.events = Counter("scoreboard_worker_events_total", "log events by outcome", ["outcome"],
                              registry=self.registry)
        self.batch_size = Histogram("scoreboard_worker_batch_size", "records per batch", registry=self.registry,
                                    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000))
        self.batch_seconds = Histogram("scoreboard_worker_batch_seconds", "time to make a batch durable",
                                       registry=self.registry,
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.rejected = Counter("scoreboard_worker_rejected_total", "log events not applied, by reason", ["reason"],
                                registry=self.registry)
        self.lag = Gauge("scoreboard_worker_consumer_lag", "records behind the end of the partition (broker's "
                         "high watermark minus the worker's position), measured on a timer", ["partition"],
                         registry=self.registry)
        self.poison = Counter("scoreboard_worker_poison_records_total", "records that failed on their own and "
                              "were set aside to scoreboard.rejected.v1 (reason poison)", registry=self.registry)
        self.health = BatchHealth()
        self.processed: dict[int, int] = {}
        """Per partition, the offset after the last record made durable (what the lag timer measures from)."""

    def observe(self, report: BatchReport, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        for outcome, count in (("accepted", report.accepted), ("duplicate", report.duplicates),
                               ("replayed", report.replayed), ("rejected", report.rejected)):
            if count:
                self.events.labels(outcome).inc(count)
        for reason in report.rejection_reasons:
            self.rejected.labels(reason).inc()


def attach_endpoints(app: faust.App, metrics: WorkerMetrics, checks: dict[str, Check]) -> None:
    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(), 2.0)
            except Exception:  # noqa: BLE001 - any failure of a check means "not ready"
                return False

        results = await asyncio.gather(*(run(check) for check in checks.values()))
        report = {name: "ok" if ok else "unavailable" for name, ok in zip(checks, results, strict=True)}
        report["batches"] = "retrying" if metrics.health.retrying else "ok"
        ready = all(results) and not metrics.health.retrying
        return web.json({"status": "ready" if ready else "unavailable", "checks": report},
                        status=200 if ready else 503)

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        # aiohttp takes the charset separately; Prometheus' text format is UTF-8
        return web.bytes(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])
