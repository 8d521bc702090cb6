"""What each process's ``/metrics`` exposes: our metrics under ``scoreboard_`` with Prometheus' naming
(counters ``_total``, durations ``_seconds``), exactly the ones docs/operations.md lists, beside the
standard process, platform and GC metrics."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gateway.bootstrap import create_app as create_gateway
from producer_api.bootstrap import build_services, create_app
from scoreboard.settings import Settings
from stream_app.observability import WorkerMetrics, attach_endpoints
from tests.support.gateway_fakes import gateway_services

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
NOWHERE = "127.0.0.1:9"
API_SETTINGS = Settings(kafka_bootstrap="", database_url=f"postgresql://nobody@{NOWHERE}/nothing",
                        redis_url=f"redis://{NOWHERE}/0", jwt_secret="s" * 40, ticket_secret="t" * 40,
                        event_signing_secret="e" * 40, rate_user_per_second=0, rate_ip_per_second=0)
STANDARD = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
            "process_start_time_seconds", "python_info", "python_gc_objects_collected_total")
"""Samples of ProcessCollector, PlatformCollector and GCCollector that operators' dashboards expect."""
OURS = {
    "api": {"scoreboard_http_requests": "counter", "scoreboard_http_request_duration_seconds": "histogram",
            "scoreboard_kafka_produce_seconds": "histogram"},
    "worker": {"scoreboard_worker_events": "counter", "scoreboard_worker_batch_size": "histogram",
               "scoreboard_worker_batch_seconds": "histogram", "scoreboard_worker_rejected": "counter",
               "scoreboard_worker_consumer_lag": "gauge", "scoreboard_worker_poison_records": "counter"},
    "gateway": {"scoreboard_http_requests": "counter", "scoreboard_http_request_duration_seconds": "histogram",
                "scoreboard_gateway_connections": "gauge", "scoreboard_gateway_push_seconds": "histogram",
                "scoreboard_gateway_lagging_subscriptions": "gauge"},
}
"""Family names (a counter's samples add ``_total``) and types."""


class FakeWeb:
    def bytes(self, value: bytes, content_type: str) -> bytes:
        return value


class FakeFaustApp:
    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}

    def page(self, path: str) -> Any:
        def register(handler: Any) -> Any:
            self.pages[path] = handler
            return handler
        return register


@pytest.fixture(scope="module")
def exposed() -> Iterator[dict[str, str]]:
    """Each process's ``GET /metrics`` answer."""
    api_services = build_services(API_SETTINGS)
    try:
        api_text = TestClient(create_app(api_services)).get("/metrics").text
    finally:
        api_services.publisher.close(timeout_s=1)
    gateway_text = TestClient(create_gateway(gateway_services(Settings()))).get("/metrics").text
    worker = FakeFaustApp()
    attach_endpoints(worker, WorkerMetrics(), {})  # type: ignore[arg-type]
    worker_text = asyncio.run(worker.pages["/metrics"](FakeWeb(), None)).decode()
    yield {"api": api_text, "worker": worker_text, "gateway": gateway_text}


def families(text: str) -> dict[str, str]:
    """Name and type of each family; the ``*_created`` timestamps prometheus_client adds beside each
    counter and histogram, which this text parser reads as gauges of their own, left out."""
    return {family.name: family.type for family in text_string_to_metric_families(text)
            if not family.name.endswith("_created")}


@pytest.mark.parametrize("process", ["api", "worker", "gateway"])
def test_each_process_exposes_its_metrics_under_the_scoreboard_prefix(exposed: dict[str, str], process: str) -> None:
    """Every metric of ours is ``scoreboard_*``, and the set is exactly the documented one."""
    found = families(exposed[process])
    ours = {name: kind for name, kind in found.items() if not name.startswith(("process_", "python_"))}
    assert ours == OURS[process]


@pytest.mark.parametrize("process", ["api", "worker", "gateway"])
def test_counters_end_in_total_and_durations_in_seconds(exposed: dict[str, str], process: str) -> None:
    for family in text_string_to_metric_families(exposed[process]):
        if not family.name.startswith("scoreboard_") or family.name.endswith("_created"):
            continue
        if family.type == "counter":
            assert all(s.name in {family.name + "_total", family.name + "_created"} for s in family.samples)
        if re.search(r"latency|duration|\btime (to|from)\b", family.documentation, re.IGNORECASE):
            assert family.name.endswith("_seconds"), family.name


@pytest.mark.parametrize("process", ["api", "worker", "gateway"])
def test_each_process_also_exposes_the_standard_process_and_gc_metrics(exposed: dict[str, str], process: str) -> None:
    """The custom registries keep what operators expect of any Python process."""
    samples = {line.split("{")[0].split(" ")[0] for line in exposed[process].splitlines() if not line.startswith("#")}
    for name in STANDARD:
        assert name in samples, (process, name)


def test_docs_list_every_metric_with_its_type() -> None:
    """docs/operations.md, section "Metrics", has a row for each metric: name (as scraped) and type."""
    text = DOCS.read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \|", section, re.MULTILINE))
    wanted = {name + ("_total" if kind == "counter" else ""): kind
              for found in OURS.values() for name, kind in found.items()}
    assert rows == wanted
