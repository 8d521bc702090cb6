"""Avro single-object encoding of events (``C3 01`` + CRC-64-AVRO fingerprint, little-endian + body).

The fingerprint names the writer schema, so one topic can carry several event types and a reader
picks the schema by fingerprint. Every kept version of every record (``schemas.versions``) is known
by its fingerprint from import on, and a record written with an older version is resolved into the
current one, which is how a schema evolves without rewriting the log.
"""

from __future__ import annotations

import dataclasses
import io
import json
from functools import cache
from typing import Any

import fastavro
import fastavro.schema

from schemas import SchemaVersion, load_schema, versions
from scoreboard.domain.errors import DecodeError
from scoreboard.domain.events import (
    ActionCompleted,
    ActionsPurged,
    BoardEntry,
    Event,
    LeaderboardChanged,
    PointsHeld,
    RejectedAction,
    ReviewDecided,
    ScoreAdjusted,
    ScoreChanged,
    UserBanned,
    UserFlagged,
    UserUnbanned,
)

MAGIC = b"\xc3\x01"
EVENT_TYPES: dict[str, type[Any]] = {
    "ActionCompleted": ActionCompleted,
    "ScoreAdjusted": ScoreAdjusted,
    "UserBanned": UserBanned,
    "UserUnbanned": UserUnbanned,
    "ScoreChanged": ScoreChanged,
    "LeaderboardChanged": LeaderboardChanged,
    "RejectedAction": RejectedAction,
    "UserFlagged": UserFlagged,
    "PointsHeld": PointsHeld,
    "ReviewDecided": ReviewDecided,
    "ActionsPurged": ActionsPurged,
}


@dataclasses.dataclass(frozen=True)
class _Codec:
    name: str
    parsed: Any
    fingerprint: bytes


def fingerprint_of(schema: dict[str, Any] | str) -> bytes:
    """CRC-64-AVRO of the schema's Parsing Canonical Form, as the 8 little-endian bytes."""
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    return bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))


@cache
def _codec(name: str) -> _Codec:
    schema = load_schema(name)
    return _Codec(name, fastavro.parse_schema(schema), fingerprint_of(schema))


@dataclasses.dataclass(frozen=True)
class WriterSchema:
    """A kept schema version and the fingerprint its records carry (what ``GET /v1/schemas`` lists)."""

    name: str
    version: int
    fingerprint: bytes
    text: str
    """The ``.avsc`` file, byte for byte."""


def _writer(kept: SchemaVersion) -> WriterSchema:
    return WriterSchema(kept.name, kept.version, fingerprint_of(kept.schema), kept.text)


@cache
def writer_schemas() -> tuple[WriterSchema, ...]:
    """Every kept version of every event's schema, by record name then version."""
    return tuple(_writer(kept) for name in sorted(EVENT_TYPES) for kept in versions(name))


@cache
def _by_fingerprint() -> dict[bytes, _Codec]:
    known = {kept.fingerprint: _Codec(kept.name, fastavro.parse_schema(json.loads(kept.text)), kept.fingerprint)
             for kept in writer_schemas()}
    return known | {_codec(name).fingerprint: _codec(name) for name in EVENT_TYPES}


def register_writer_schema(name: str, writer_schema: dict[str, Any]) -> None:
    """Teach the decoder another writer schema of ``name``, resolved into the current one (the kept
    versions in ``schemas/`` are known already; this is for tests and one-off tools)."""
    parsed = fastavro.parse_schema(writer_schema)
    _by_fingerprint()[fingerprint_of(writer_schema)] = _Codec(name, parsed, fingerprint_of(writer_schema))


def _register_kept_versions() -> None:
    """Parse every kept version now, so a bad ``.avsc`` fails the import, not the first old record."""
    _by_fingerprint()


_register_kept_versions()


def encode(event: Event) -> bytes:
    name = type(event).__name__
    codec = _codec(name)
    buffer = io.BytesIO()
    buffer.write(MAGIC)
    buffer.write(codec.fingerprint)
    fastavro.schemaless_writer(buffer, codec.parsed, _to_record(event))
    return buffer.getvalue()


def decode(data: bytes) -> Event:
    if len(data) < 10 or data[:2] != MAGIC:
        raise DecodeError("not Avro single-object encoding (missing C3 01 marker)")
    writer = _by_fingerprint().get(bytes(data[2:10]))
    if writer is None:
        raise DecodeError(f"unknown schema fingerprint {bytes(data[2:10]).hex()}")
    reader = _codec(writer.name)
    try:
        # a record of the current version needs no resolution (the reader schema would be the same object)
        record = fastavro.schemaless_reader(io.BytesIO(data[10:]), writer.parsed,
                                            None if writer is reader else reader.parsed)
    except Exception as exc:  # fastavro raises many types for truncated or corrupt bodies
        raise DecodeError(f"corrupt {writer.name} body: {exc}") from exc
    return _from_record(writer.name, record)


@cache
def _field_names(name: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(EVENT_TYPES[name]))


def _to_record(event: Event) -> dict[str, Any]:
    name = type(event).__name__
    if name not in _NESTED and _plain_fields(name) is not None:
        # A plain dataclass's __dict__ holds its fields and nothing else (frozen: nothing can be added);
        # the writer only reads it.
        fields: dict[str, Any] = event.__dict__
        return fields
    # A shallow copy: dataclasses.asdict deep-copies and is the slowest part of encoding.
    record = {field: getattr(event, field) for field in _field_names(name)}
    if isinstance(event, LeaderboardChanged):
        record["entries"] = [{"rank": e.rank, "user_id": e.user_id, "score": e.score} for e in event.entries]
    elif isinstance(event, ActionsPurged):
        record["user_ids"] = list(event.user_ids)
    return record


_NESTED = frozenset({"LeaderboardChanged", "ActionsPurged"})
"""Events with nested values the writer needs as plain lists and dicts."""


def _from_record(name: str, record: Any) -> Event:
    if not isinstance(record, dict):
        raise DecodeError(f"{name} body is not a record")
    if name == "LeaderboardChanged":
        record = dict(record)
        record["entries"] = tuple(BoardEntry(**entry) for entry in record["entries"])
    elif name == "ActionsPurged":
        record = dict(record)
        record["user_ids"] = tuple(record["user_ids"])
    event_type = EVENT_TYPES[name]
    if record.keys() == _plain_fields(name):
        # Every field, nothing else (a body read or resolved into the current schema): fill the frozen
        # dataclass's fields directly, as its __init__ would (it has no __post_init__ or slots;
        # ``_plain_fields`` checks), without its per-field object.__setattr__ calls.
        plain: Event = object.__new__(event_type)
        plain.__dict__.update(record)
        return plain
    event: Event = event_type(**{k: record[k] for k in _field_names(name) if k in record})
    return event


@cache
def _plain_fields(name: str) -> frozenset[str] | None:
    """The field names of an event type whose instances are plain (``__dict__``, no ``__post_init__``),
    or None: then ``_from_record`` always goes through ``__init__``."""
    event_type = EVENT_TYPES[name]
    if hasattr(event_type, "__post_init__") or hasattr(event_type, "__slots__"):
        return None
    return frozenset(_field_names(name))
