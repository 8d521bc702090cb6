"""Avro single-object encoding of the events."""

from __future__ import annotations

import copy
import dataclasses
import io
import struct

import fastavro
import fastavro.schema
import pytest

from schemas import load_schema
from scoreboard.adapters import codec
from scoreboard.domain.errors import DecodeError
from scoreboard.domain.events import (
    ActionCompleted,
    ActionsPurged,
    BoardEntry,
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

ACTION = ActionCompleted(
    event_id="0b6a3c1e-5e2f-5f6a-9d2b-3a4c5d6e7f80", user_id="alice", action_id="win-match",
    nonce="nonce-0001", points=100, catalog_version="2026-11-27.1", occurred_at_us=1_795_996_800_000_000,
    request_id="r1",
)


def crc64_avro(data: bytes) -> int:
    """The Avro specification's CRC-64-AVRO, written independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


@pytest.mark.parametrize("event", [
    ACTION,
    ScoreChanged("e1", "bob", "win-match", -30, 70, 5),
    LeaderboardChanged("global", 1_795_996_800_000_001, (BoardEntry(1, "a", 2**62), BoardEntry(2, "b", -5)), 7),
    LeaderboardChanged("daily:2026-11-27", 3, (), 9),
    RejectedAction("", "mallory", "undecodable: junk", 3, 42, 11),
    ScoreAdjusted("e2", "bob", -2**40, "refund", "root", "adj-0001", 12),
    UserBanned("e3", "mallory", "bot", "root", 13),
    UserUnbanned("e4", "mallory", "appeal", "root", 14),
    ActionCompleted("e5", "alice", "boss-fight", "t-1", 250, "v1", 15, "r2", "a" * 32, "b" * 32, 14),
    UserFlagged("flag/0/1/velocity", "bot", "velocity", '{"summary": "fast"}', 10, False, "worker", 0, 1, 16),
    PointsHeld("held/e6", "bot", "e6", "win-match", 100, 350, 17),
    ReviewDecided("e7", "bot", "reject", "mod", "a script", 18),
    ActionsPurged("e8", "p-1", "win-match", 1, 19, ("bot", "bot2"), "mod", "exploit", 20),
    ActionsPurged("e9", "p-2", "win-match", 1, 19, (), "mod", "exploit", 21),
])
def test_every_event_round_trips_through_single_object_encoding(event: object) -> None:
    """encode then decode gives back an equal event for every event type."""
    decoded = codec.decode(codec.encode(event))  # type: ignore[arg-type]
    assert decoded == event
    assert type(decoded) is type(event) and vars(decoded) == vars(event)
    assert hash(decoded) == hash(event)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(decoded, dataclasses.fields(decoded)[0].name, "changed")  # noqa: B010 - any field is frozen


def test_header_is_c301_and_the_little_endian_crc64_fingerprint_of_the_canonical_schema() -> None:
    """The first ten bytes are pinned: C3 01, then the schema's CRC-64-AVRO fingerprint (LE)."""
    data = codec.encode(ACTION)
    assert data[:10].hex() == "c301009fbdd051d5c97a"  # ActionCompleted v2 (v1 was c301d1b4c22d5b303919)
    canonical = fastavro.schema.to_parsing_canonical_form(load_schema("ActionCompleted"))
    assert data[2:10] == struct.pack("<Q", crc64_avro(canonical.encode()))


def test_crc64_matches_the_specification_vector_for_null() -> None:
    """Our reference CRC agrees with the Avro spec's published fingerprint of "null"."""
    assert crc64_avro(b'"null"') == 7195948357588979594


def test_an_older_writer_schema_is_resolved_into_the_current_event() -> None:
    """A record written before request_id existed decodes with the field's default."""
    old = copy.deepcopy(load_schema("ActionCompleted"))
    old["fields"] = [f for f in old["fields"] if f["name"] != "request_id"]
    codec.register_writer_schema("ActionCompleted", old)
    body = io.BytesIO()
    record = {k: v for k, v in dataclasses.asdict(ACTION).items() if k != "request_id"}
    fastavro.schemaless_writer(body, fastavro.parse_schema(old), record)
    data = codec.MAGIC + codec.fingerprint_of(old) + body.getvalue()
    decoded = codec.decode(data)
    assert decoded == ActionCompleted(**(record | {"request_id": ""}))


@pytest.mark.parametrize("data", [b"", b"\x00\x01junk", b"\xc3\x01" + b"\x00" * 8 + b"x", b"{\"points\": 5}"])
def test_bytes_that_are_not_a_known_event_raise_decode_error(data: bytes) -> None:
    """Garbage, JSON and unknown fingerprints are a DecodeError, never another exception."""
    with pytest.raises(DecodeError):
        codec.decode(data)


def test_a_truncated_body_raises_decode_error() -> None:
    """A cut-off record is reported as corrupt."""
    with pytest.raises(DecodeError):
        codec.decode(codec.encode(ACTION)[:-5])
