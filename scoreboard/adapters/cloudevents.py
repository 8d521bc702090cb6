"""CloudEvents Kafka binding headers (binary mode) for downstream consumers."""

from __future__ import annotations

from scoreboard.domain.clock import to_datetime


def cloud_event_headers(event_id: str, event_type: str, source: str, time_us: int) -> list[tuple[str, bytes]]:
    """``ce_*`` headers; the value stays Avro single-object encoded."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_type", f"scoreboard.{event_type}.v1".encode()),
        ("ce_source", source.encode()),
        ("ce_time", to_datetime(time_us).isoformat().replace("+00:00", "Z").encode()),
        ("content-type", b"application/avro"),
    ]


def header(headers: list[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or []:
        if key == name:
            return value.decode()
    return None
