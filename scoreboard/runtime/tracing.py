"""A process's tracing: OTLP/HTTP (protobuf) export when an endpoint is configured, nothing otherwise.

``SCOREBOARD_OTLP_ENDPOINT`` (else the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``) is the collector's
base URL, e.g. ``http://collector:4318``; spans go to ``<base>/v1/traces`` in batches (the SDK's
``OTEL_BSP_*`` variables tune the batching). Without an endpoint no provider, processor or exporter
exists and ``scoreboard.adapters.tracing.Tracing`` is a no-op.
"""

from __future__ import annotations

from scoreboard.adapters.tracing import Tracing
from scoreboard.settings import Settings

TRACES_PATH = "/v1/traces"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (a URL already ending in it is kept)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def tracing_for(settings: Settings, service: str) -> Tracing:
    """``service`` (``api``, ``worker``, ``gateway``) is the spans' ``service.name``."""
    if not settings.otlp_endpoint:
        return Tracing()
    # Imported only when exporting: a process without an endpoint never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service, "service.namespace": "scoreboard"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint))))
    return Tracing(provider.get_tracer("scoreboard"), shutdown=provider.shutdown)
