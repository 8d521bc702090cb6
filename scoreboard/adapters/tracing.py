"""Traces across the log: W3C trace context in Kafka record headers, spans through OpenTelemetry's API.

The api's completion span puts its context into the action record as ``traceparent`` (and
``tracestate``), the names of CloudEvents' distributed-tracing extension; the worker continues it per
event and hands it on in the ``LeaderboardChanged`` record; the gateway continues that when it pushes
the version. The record signature covers only the ``ce_*`` headers (``scoreboard.domain.signing``), so
these headers change no signature.

``Tracing()`` without a tracer is off: every method returns at once and starts nothing, so a process
that exports no traces pays one attribute check per use. ``scoreboard.runtime.tracing`` builds the real
one from the settings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["TRACEPARENT", "TRACESTATE", "TRACE_HEADERS", "Span", "SpanKind", "Tracing", "carrier_headers",
           "failed", "trace_carrier"]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_HEADERS = (TRACEPARENT, TRACESTATE)
_PROPAGATOR = TraceContextTextMapPropagator()

HeaderPairs = Sequence[tuple[str, bytes]]


def trace_carrier(headers: HeaderPairs | Mapping[str, bytes] | None) -> dict[str, str]:
    """The W3C trace context among a record's Kafka headers (pairs or a mapping), as text; the first
    of each name wins, undecodable values are left out (a malformed context just starts no trace)."""
    carrier: dict[str, str] = {}
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in items:
        if name in TRACE_HEADERS and name not in carrier and value is not None:
            try:
                carrier[name] = bytes(value).decode("ascii")
            except UnicodeDecodeError:
                continue
    return carrier


def carrier_headers(carrier: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """Kafka header pairs of a W3C trace context (``traceparent`` first), empty values left out."""
    return [(name, carrier[name].encode("ascii")) for name in TRACE_HEADERS if carrier.get(name)]


def failed(span: Span | None, exc: BaseException) -> None:
    """Mark ``span`` (if any) as failed by ``exc``."""
    if span is not None:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


class Tracing:
    """Spans and their propagation for one process; off (no-op, nothing started) without a tracer."""

    def __init__(self, tracer: Tracer | None = None, shutdown: Any = None) -> None:
        """``shutdown``: called once by ``close`` (flushes and stops the exporter)."""
        self._tracer = tracer
        self._shutdown = shutdown
        self.enabled = tracer is not None

    def start_span(self, name: str, *, parent: HeaderPairs | Mapping[str, bytes] | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None) -> Span | None:
        """A started span (end it yourself) continuing the trace in ``parent``'s headers, or the current
        one when ``parent`` is None; None when tracing is off."""
        if self._tracer is None:
            return None
        context = self.context_of(parent) if parent is not None else None
        return self._tracer.start_span(name, context=context, kind=kind, attributes=dict(attributes or {}))

    @contextmanager
    def span(self, name: str, *, parent: HeaderPairs | Mapping[str, bytes] | None = None,
             kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None,
             expected: tuple[type[BaseException], ...] = ()) -> Iterator[Span | None]:
        """``start_span`` made current for the block and ended after it; an exception marks it failed,
        unless it is one of ``expected`` (e.g. a problem answered to the client). Yields None when
        tracing is off."""
        span = self.start_span(name, parent=parent, kind=kind, attributes=attributes)
        if span is None:
            yield None
            return
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                yield span
            except expected:
                raise
            except BaseException as exc:
                failed(span, exc)
                raise

    @staticmethod
    def context_of(headers: HeaderPairs | Mapping[str, bytes] | None) -> Context:
        """The remote parent named by ``headers`` (an empty context when they name none)."""
        return _PROPAGATOR.extract(trace_carrier(headers))

    def headers(self, span: Span | None = None) -> list[tuple[str, bytes]]:
        """``traceparent``/``tracestate`` headers naming ``span`` (else the current span) as the parent;
        empty when tracing is off or there is no valid span."""
        if self._tracer is None:
            return []
        carrier: dict[str, str] = {}
        context = trace.set_span_in_context(span) if span is not None else None
        _PROPAGATOR.inject(carrier, context=context)
        return carrier_headers(carrier)

    def close(self) -> None:
        """Flush what was not exported yet and stop exporting (once)."""
        shutdown, self._shutdown = self._shutdown, None
        if shutdown is not None:
            shutdown()
