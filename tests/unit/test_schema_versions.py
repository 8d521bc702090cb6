"""Every schema ever written stays resolvable: released versions are pinned, and the current reader
of each record reads every kept writer version of it."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
from typing import Any

import fastavro
import fastavro.utils
import pytest

import schemas
from scoreboard.adapters import codec
from scoreboard.domain.events import ActionCompleted

RELEASED: dict[tuple[str, int], tuple[str, str]] = {
    # (record, version): (CRC-64-AVRO fingerprint as written in the header, SHA-256 of the .avsc file).
    # A released version is never edited or removed: records written with it sit in the log forever and
    # ``GET /v1/schemas/{fingerprint}`` serves its file as immutable. Change a schema by adding the next
    # version (backward compatible: new fields with defaults) and a row here.
    ("ActionCompleted", 1): ("d1b4c22d5b303919", "68634e60459ced8fa956d7c37f21a2018fb28a47c40aca0e38bbf83f6ab57844"),
    ("LeaderboardChanged", 1): ("77c00177a70c2e7f", "e2433d4aa13a4bfb8450ecab52e9ac456f9abbe98e33de9f680ad72e5175735a"),
    ("RejectedAction", 1): ("358096a058784e2e", "1a55d11cf99998e66a042b3c5e05320e9de043dc46df487df298daea02f51fab"),
    ("ScoreAdjusted", 1): ("85807c87a789c01f", "87f1a836872bc6791c29b92c312286db45dad4c653b45f3912c11f6c552847ef"),
    ("ScoreChanged", 1): ("9b3088e8dc893920", "19780fd32ba07d720e00c75edc4cf220c83c8476a7ceea67a6321a860aac1869"),
    ("UserBanned", 1): ("64269a4c451de7cb", "5b4a72f30e9554091e51081748e758e9c2d2d0ef0770fead008fbd538faffe33"),
    ("UserUnbanned", 1): ("70ac283a299e05e2", "4cb5f1e600bba92060f516278a35933a65ea29ccf605f7b15af84167968e9559"),
    # Issue 14: detection evidence in ActionCompleted, and the moderation events.
    ("ActionCompleted", 2): ("009fbdd051d5c97a", "fba779f17ce11f2a8bc3e3240a41ef175d8a2215e06a76ab50d8c29a5a5568ba"),
    ("ActionsPurged", 1): ("c33a1efa4c4f240b", "6335b668ad00f50aa1f8f791d8282a02575e608dc9a7b39fe67a51650223987c"),
    ("PointsHeld", 1): ("cff40b8c11e7fb5a", "faea67166509f23b19c691c88b7db7370465e461bbd83bc2c85017249b72b4be"),
    ("ReviewDecided", 1): ("1f20cd6c19db835c", "0bc37ed80388435af598d330806af274a66d813494f4a51295ca4ad5c6921ff8"),
    ("UserFlagged", 1): ("253f26333113ac4a", "854a10e09d92ab69a26ac24199ae61cd8d769f972ded397ff0afc64fc9459936"),
}
KEPT = [(kept.name, kept.version) for name in schemas.schema_names() for kept in schemas.versions(name)]


def test_every_event_type_has_schemas_and_every_schema_an_event_type() -> None:
    assert schemas.schema_names() == sorted(codec.EVENT_TYPES)


def test_the_kept_versions_are_exactly_the_released_ones() -> None:
    """A released version that disappears fails here; so does a new one without its pinned row."""
    assert sorted(KEPT) == sorted(RELEASED)


@pytest.mark.parametrize(("name", "version"), sorted(RELEASED))
def test_a_released_version_never_changes(name: str, version: int) -> None:
    """Neither its fingerprint nor a byte of its file (docs and defaults are outside the fingerprint)."""
    kept = schemas.versions(name)[version - 1]
    fingerprint, digest = RELEASED[(name, version)]
    assert kept.version == version
    assert codec.fingerprint_of(kept.schema).hex() == fingerprint
    assert hashlib.sha256(kept.text.encode()).hexdigest() == digest


@pytest.mark.parametrize("name", sorted(codec.EVENT_TYPES))
def test_the_current_schema_is_the_newest_version_and_what_the_codec_writes(name: str) -> None:
    newest = schemas.versions(name)[-1]
    assert schemas.load_schema(name) == newest.schema
    assert codec._codec(name).fingerprint == codec.fingerprint_of(newest.schema)


def unreadable_by(reader: dict[str, Any], writer: dict[str, Any], samples: int = 25) -> list[str]:
    """Why records written with ``writer`` cannot be read with ``reader`` (empty when they all can):
    generated records are written with the writer schema and read back through schema resolution;
    every field the reader shares with the writer must come back unchanged, and the others with their
    defaults."""
    parsed_writer, parsed_reader = fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    problems = []
    shared = {f["name"] for f in writer["fields"]} & {f["name"] for f in reader["fields"]}
    added = {f["name"]: f for f in reader["fields"] if f["name"] not in shared}
    for record in fastavro.utils.generate_many(parsed_writer, samples):
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed_writer, record)
        body.seek(0)
        try:
            read = fastavro.schemaless_reader(body, parsed_writer, parsed_reader)
        except Exception as exc:  # SchemaResolutionError and friends
            problems.append(f"{type(exc).__name__}: {exc}")
            continue
        assert isinstance(read, dict)
        problems += [f"{field} changed" for field in shared if read[field] != record[field]]
        problems += [f"{field} is not its default" for field, spec in added.items()
                     if read.get(field) != spec.get("default")]
    return problems


@pytest.mark.parametrize(("name", "version"), KEPT)
def test_the_current_reader_reads_every_kept_writer_version(name: str, version: int) -> None:
    """Backward compatibility, checked with fastavro's schema resolution on generated records."""
    writer = schemas.versions(name)[version - 1].schema
    assert unreadable_by(schemas.load_schema(name), writer) == []


def test_the_compatibility_check_catches_a_field_added_without_a_default() -> None:
    """The check above is not vacuous: a new field without a default, or a narrowed type, fails it."""
    writer = schemas.load_schema("ScoreChanged")
    no_default = copy.deepcopy(writer)
    no_default["fields"].append({"name": "streak", "type": "int"})
    assert unreadable_by(no_default, writer, samples=1)
    narrowed = copy.deepcopy(writer)
    next(f for f in narrowed["fields"] if f["name"] == "points")["type"] = "int"
    assert unreadable_by(narrowed, writer, samples=5)
    with_default = copy.deepcopy(writer)
    with_default["fields"].append({"name": "streak", "type": "int", "default": 0})
    assert unreadable_by(with_default, writer) == []


def single_object(writer: dict[str, Any], record: dict[str, Any]) -> bytes:
    """Hand-encoded single-object encoding: C3 01, the writer's fingerprint, the Avro body."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(writer), record)
    return b"\xc3\x01" + codec.fingerprint_of(writer) + body.getvalue()


@pytest.mark.parametrize(("name", "version"), KEPT)
def test_the_codec_knows_every_kept_version_from_import_on(name: str, version: int) -> None:
    """A record hand-encoded with any kept version decodes, with no register call, to the current event."""
    writer = schemas.versions(name)[version - 1].schema
    record = next(fastavro.utils.generate_many(fastavro.parse_schema(writer), 1))
    decoded = codec.decode(single_object(writer, record))
    assert type(decoded) is codec.EVENT_TYPES[name]
    assert isinstance(record, dict)
    fields = codec._to_record(decoded)
    assert {k: v for k, v in record.items() if k in fields} == {k: v for k, v in fields.items() if k in record}


def test_a_log_mixing_writer_versions_decodes_to_current_events_with_defaults() -> None:
    """As ``rebuild`` meets it: an ActionCompleted written before ``request_id`` existed, between two
    written with the current schema, decodes to the current event with the field's default."""
    older = copy.deepcopy(schemas.load_schema("ActionCompleted"))
    older["fields"] = [f for f in older["fields"] if f["name"] != "request_id"]
    codec.register_writer_schema("ActionCompleted", older)
    current = ActionCompleted("e-1", "ann", "win-match", "n-1", 100, "c1", 1_795_996_800_000_000, "r-1")
    old_record = {k: v for k, v in dataclasses.asdict(current).items() if k != "request_id"} | {
        "event_id": "e-0", "nonce": "n-0"}
    log = [codec.encode(current), single_object(older, old_record),
           codec.encode(dataclasses.replace(current, event_id="e-2", nonce="n-2"))]
    assert log[1][2:10] != log[0][2:10]  # really two writer schemas
    decoded = [codec.decode(value) for value in log]
    assert decoded[1] == dataclasses.replace(current, event_id="e-0", nonce="n-0", request_id="")
    assert [event.event_id for event in decoded if isinstance(event, ActionCompleted)] == ["e-1", "e-0", "e-2"]
