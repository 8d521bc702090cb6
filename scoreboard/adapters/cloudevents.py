"""CloudEvents Kafka binding headers (binary mode) for downstream consumers."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from scoreboard.domain.clock import to_datetime

_FAST_UNTIL_US = 4_102_444_800_000_000
"""2100-01-01: up to here a microsecond count is exact as float seconds, so the split below gives the
text ``to_datetime(us).isoformat()`` gives (tests/unit/test_cloudevents.py compares them)."""


def cloud_event_headers(event_id: str, event_type: str, source: str, time_us: int) -> list[tuple[str, bytes]]:
    """``ce_*`` headers; the value stays Avro single-object encoded."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_type", _type(event_type)),
        ("ce_source", _source(source)),
        ("ce_time", ce_time(time_us)),
        ("content-type", b"application/avro"),
    ]


def ce_time(time_us: int) -> bytes:
    """RFC 3339 in UTC with a ``Z`` (microseconds when there are any), as ``datetime.isoformat`` writes it."""
    if not 0 <= time_us < _FAST_UNTIL_US:
        return to_datetime(time_us).isoformat().replace("+00:00", "Z").encode()
    seconds, micros = divmod(time_us, 1_000_000)
    if micros:
        return b"%s.%06dZ" % (_second(seconds), micros)
    return _second(seconds) + b"Z"


@lru_cache(maxsize=4)
def _second(seconds: int) -> bytes:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "").encode()


@lru_cache(maxsize=64)
def _type(event_type: str) -> bytes:
    return f"scoreboard.{event_type}.v1".encode()


@lru_cache(maxsize=64)
def _source(source: str) -> bytes:
    return source.encode()


def header(headers: list[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or []:
        if key == name:
            return value.decode()
    return None
