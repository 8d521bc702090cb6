"""Trace context across the log: the W3C headers the api writes, the worker continues and hands on, and
what tracing costs when it is off (nothing is started)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import cast

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from producer_api.appender import API_SOURCE, ActionLog
from scoreboard.adapters import codec
from scoreboard.adapters.cloudevents import cloud_event_headers
from scoreboard.adapters.publishing import Publisher
from scoreboard.adapters.tracing import Tracing, carrier_headers, trace_carrier
from scoreboard.domain.catalog import Catalogs, parse_catalog
from scoreboard.domain.clock import to_micros
from scoreboard.domain.events import ActionCompleted
from scoreboard.domain.policy import Judge
from scoreboard.domain.signing import SigningKeyring
from scoreboard.domain.topics import ACTIONS, LEADERBOARD_CHANGES, SCORE_CHANGES
from scoreboard.runtime.tracing import traces_url, tracing_for
from scoreboard.settings import Settings
from stream_app.pipeline import Pipeline, RawRecord
from tests.support.memory_boards import MemoryBoards
from tests.support.memory_ledger import MemoryLedger
from tests.support.memory_publisher import MemoryPublisher

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")  # flags: sampled, maybe random
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
EVENTS = SigningKeyring("event", "the api's event signing secret, 32+ bytes")
CHANGES = SigningKeyring("change", "the worker's change signing secret, 32+ bytes")
T0 = to_micros(datetime(2026, 11, 30, 10, tzinfo=UTC))
CATALOG = parse_catalog({"version": "c1", "limits": {"max_points_per_hour": 1000, "max_points_per_day": 5000},
                         "actions": {"match": {"points": 100, "cooldown_seconds": 60}}})


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


def tracing_into(exporter: InMemorySpanExporter) -> Tracing:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider.get_tracer("tests"), shutdown=provider.shutdown)


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def test_the_trace_context_is_read_from_header_pairs_or_a_mapping_and_nothing_else() -> None:
    """Only traceparent/tracestate are taken, the first of each; an undecodable value is left out."""
    pairs = [("ce_id", b"e1"), ("traceparent", PARENT.encode()), ("traceparent", b"00-other"),
             ("tracestate", b"\xff\xfe"), ("sb_sig", b"abc")]
    assert trace_carrier(pairs) == {"traceparent": PARENT}
    assert trace_carrier({"tracestate": b"k=v", "ce_id": b"e1"}) == {"tracestate": "k=v"}
    assert trace_carrier(None) == {} and trace_carrier([]) == {}


def test_carrier_headers_put_traceparent_first_and_leave_out_empty_values() -> None:
    """The pairs a record gets from an injected carrier."""
    assert carrier_headers({"tracestate": "k=v", "traceparent": PARENT, "other": "x"}) == [
        ("traceparent", PARENT.encode()), ("tracestate", b"k=v")]
    assert carrier_headers({"traceparent": PARENT, "tracestate": ""}) == [("traceparent", PARENT.encode())]


def test_tracing_off_starts_no_span_and_adds_no_header() -> None:
    """Without a tracer every call returns at once: no span, no headers."""
    tracing = Tracing()
    assert not tracing.enabled
    assert tracing.start_span("x", parent=[("traceparent", PARENT.encode())]) is None
    with tracing.span("x") as span:
        assert span is None
        assert tracing.headers() == []
    tracing.close()


def test_tracing_is_off_without_an_endpoint_and_the_standard_variable_also_turns_it_on(
        tmp_path: pytest.TempPathFactory) -> None:
    """SCOREBOARD_OTLP_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT; the traces path is added once."""
    env = {"SCOREBOARD_STACK_DIR": str(tmp_path)}
    assert not tracing_for(Settings.from_env(env), "api").enabled
    assert Settings.from_env(env | {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).otlp_endpoint == "http://c:4318"
    assert Settings.from_env(env | {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                                    "SCOREBOARD_OTLP_ENDPOINT": "http://d:4318"}).otlp_endpoint == "http://d:4318"
    assert traces_url("http://c:4318") == traces_url("http://c:4318/v1/traces/") == "http://c:4318/v1/traces"
    tracing = tracing_for(Settings(otlp_endpoint="http://127.0.0.1:9"), "worker")
    assert tracing.enabled
    tracing.close()


def test_a_spans_headers_name_it_in_w3c_form_and_a_span_from_them_continues_its_trace(
        spans: InMemorySpanExporter) -> None:
    """headers(span) -> traceparent with the span's ids; start_span(parent=headers) is its child."""
    tracing = tracing_into(spans)
    first = tracing.start_span("first")
    headers = tracing.headers(first)
    assert first is not None and [name for name, _ in headers] == ["traceparent"]
    found = TRACEPARENT.fullmatch(headers[0][1].decode())
    assert found is not None
    child = tracing.start_span("child", parent=[("ce_id", b"e"), *headers])
    assert child is not None
    child.end()
    first.end()
    done = {s.name: s for s in spans.get_finished_spans()}
    assert (found.group(1), found.group(2)) == hex_ids(done["first"])
    assert hex_ids(done["child"])[0] == found.group(1)
    assert done["child"].parent is not None and done["child"].parent.span_id == int(found.group(2), 16)
    assert done["child"].parent.is_remote


def test_a_span_fails_on_an_exception_but_not_on_an_expected_one(spans: InMemorySpanExporter) -> None:
    """A problem answered to the client leaves the span unset; any other exception marks it as an error."""
    tracing = tracing_into(spans)
    with pytest.raises(KeyError), tracing.span("expected", expected=(KeyError,)):
        raise KeyError("client")
    with pytest.raises(ValueError), tracing.span("failed", expected=(KeyError,)):
        raise ValueError("bug")
    done = {s.name: s for s in spans.get_finished_spans()}
    assert done["expected"].status.status_code is StatusCode.UNSET
    assert done["failed"].status.status_code is StatusCode.ERROR


def test_trace_headers_change_no_record_signature() -> None:
    """The signature covers the ce_* headers only: a record with traceparent verifies, with the same MAC."""
    headers = cloud_event_headers("e1", "ActionCompleted", API_SOURCE, T0)
    plain = EVENTS.sign(ACTIONS, 2, b"ann", b"value", headers)
    traced = EVENTS.sign(ACTIONS, 2, b"ann", b"value", [*headers, ("traceparent", PARENT.encode())])
    EVENTS.verify(ACTIONS, 2, b"ann", b"value", traced)
    assert plain[-1] == traced[-1]


class OnePartition:
    """The part of the Kafka publisher ``ActionLog`` uses, keeping what it was given."""

    def __init__(self) -> None:
        self.headers: list[Sequence[tuple[str, bytes]]] = []

    def partition_count(self, topic: str) -> int:
        return 1

    async def publish(self, topic: str, key: str, value: bytes, headers: Sequence[tuple[str, bytes]],
                      partition: int = -1, timestamp_ms: int = 0) -> tuple[int, int]:
        self.headers.append(headers)
        return 0, len(self.headers) - 1


def test_the_appended_record_names_the_apis_producer_span_under_the_request_span(
        spans: InMemorySpanExporter) -> None:
    """Request span -> producer span 'send scoreboard.actions.v1' -> the record's traceparent; still signed."""
    tracing = tracing_into(spans)
    publisher = OnePartition()
    log = ActionLog(cast(Publisher, publisher), EVENTS, tracing=tracing)
    event = ActionCompleted("ann/n1", "ann", "match", "n1", 100, "c1", T0)

    async def request() -> None:
        with tracing.span("POST", kind=SpanKind.SERVER):
            await log.append(event)

    asyncio.run(request())
    done = {s.name: s for s in spans.get_finished_spans()}
    send = done[f"send {ACTIONS}"]
    assert send.kind is SpanKind.PRODUCER
    assert send.parent is not None and f"{send.parent.span_id:016x}" == hex_ids(done["POST"])[1]
    carrier = trace_carrier(publisher.headers[0])
    assert carrier["traceparent"].startswith("00-{}-{}-".format(*hex_ids(send)))
    EVENTS.verify(ACTIONS, 0, b"ann", codec.encode(event), publisher.headers[0])


def test_without_tracing_the_appended_record_has_no_trace_header() -> None:
    """Off: the record is exactly the signed CloudEvents record."""
    publisher = OnePartition()
    asyncio.run(ActionLog(cast(Publisher, publisher), EVENTS).append(
        ActionCompleted("ann/n1", "ann", "match", "n1", 100, "c1", T0)))
    assert trace_carrier(publisher.headers[0]) == {}


def record(event: ActionCompleted, offset: int, trace: bytes | None) -> RawRecord:
    value = codec.encode(event)
    headers = cloud_event_headers(event.event_id, "ActionCompleted", API_SOURCE, event.occurred_at_us)
    if trace is not None:
        headers.append(("traceparent", trace))
    key = event.user_id.encode()
    return RawRecord(key, value, 0, offset, EVENTS.sign(ACTIONS, 0, key, value, headers), event.occurred_at_us)


class FixedClock:
    def now_us(self) -> int:
        return T0 + 1


def test_the_worker_continues_each_traced_event_and_hands_its_span_to_the_change_records(
        spans: InMemorySpanExporter) -> None:
    """One consumer span per traced event (child of the record's traceparent); ScoreChanged carries its
    event's span, LeaderboardChanged the span of the batch's last traced event on that board."""
    tracing = tracing_into(spans)
    ledger = MemoryLedger(judge=Judge(Catalogs(CATALOG, {"c1": CATALOG}), max_skew_us=300 * 1_000_000))
    publisher = MemoryPublisher()
    pipeline = Pipeline(ledger, MemoryBoards(top_n=3), publisher, FixedClock(), EVENTS, CHANGES, tracing=tracing)
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    batch = [record(ActionCompleted("ann/1", "ann", "match", "1", 100, "c1", T0), 0, PARENT.encode()),
             record(ActionCompleted("bob/1", "bob", "match", "1", 100, "c1", T0), 1, None),
             record(ActionCompleted("cyd/1", "cyd", "match", "1", 100, "c1", T0), 2, other.encode())]
    asyncio.run(pipeline.process(batch))

    done = sorted(spans.get_finished_spans(), key=lambda s: str((s.attributes or {}).get("messaging.message.id")))
    assert [s.name for s in done] == [f"process {ACTIONS}"] * 2
    ann, cyd = done
    assert ann.kind is SpanKind.CONSUMER and ann.attributes is not None
    assert ann.attributes["scoreboard.outcome"] == "accepted"
    assert hex_ids(ann)[0] == PARENT[3:35] and ann.parent is not None
    assert f"{ann.parent.span_id:016x}" == PARENT[36:52]
    assert hex_ids(cyd)[0] == other[3:35]

    def parent_of(topic: str, key: str) -> tuple[str, str] | None:
        found = [trace_carrier(h).get("traceparent") for t, k, _, h in publisher.published if (t, k) == (topic, key)]
        assert found, (topic, key)
        matched = TRACEPARENT.fullmatch(found[-1] or "")
        return (matched.group(1), matched.group(2)) if matched else None

    assert parent_of(SCORE_CHANGES, "ann") == hex_ids(ann)
    assert parent_of(SCORE_CHANGES, "bob") is None
    assert parent_of(LEADERBOARD_CHANGES, "global") == hex_ids(cyd)
    for topic, key, value, headers in publisher.published:
        CHANGES.verify(topic, -1, key.encode(), value, headers)
