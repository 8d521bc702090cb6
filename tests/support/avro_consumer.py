"""A downstream consumer written only with standard tools, as a service outside this repository would write
it: confluent-kafka to read, and Apache Avro's own Python implementation (the ``avro`` package, not fastavro)
to decode. It parses the single-object header itself (``C3 01`` + the 8 fingerprint bytes), fetches the writer
schema by fingerprint from ``GET {api}/v1/schemas/{fingerprint}`` once, and decodes with
``avro.io.DatumReader(writer, reader)``, the reader being the current schema of the record's name (the newest
version ``GET /v1/schemas`` lists), so that a record written with an older version is resolved into it.

``read_raw`` is its Kafka half alone: the records of given offset ranges, undecoded."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import avro.io
import avro.schema
from confluent_kafka import Consumer, TopicPartition

Ranges = dict[str, dict[int, tuple[int, int]]]
"""What to read: topic → partition → (first offset, end offset), the end excluded."""
MAGIC = b"\xc3\x01"


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def read_raw(bootstrap: str, ranges: Ranges, timeout_s: float = 30.0) -> list[RawRecord]:
    """Every record in ``ranges`` (a compacted topic may have gaps: an offset past the end finishes a partition)."""
    pending = {(topic, partition): end for topic, partitions in ranges.items()
               for partition, (start, end) in partitions.items() if end > start}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"avro-consumer-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    found: list[RawRecord] = []
    try:
        consumer.assign([TopicPartition(topic, partition, ranges[topic][partition][0])
                         for topic, partition in pending])
        while pending:
            message = consumer.poll(timeout_s)
            if message is None:
                raise AssertionError(f"no record within {timeout_s} s, still waiting on {sorted(pending)}")
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if message.error() or topic is None or partition is None or offset is None:
                continue
            end = pending.get((topic, partition))
            if end is None or offset >= end:
                pending.pop((topic, partition), None)
                continue
            found.append(RawRecord(topic, partition, offset, message.key(), message.value()))
            if offset + 1 >= end:
                del pending[(topic, partition)]
    finally:
        consumer.close()
    return found


class SchemaClient:
    """Writer schemas by fingerprint (fetched once: a released schema never changes) and the current
    schema of every record name."""

    def __init__(self, api: str) -> None:
        self.api = api.rstrip("/")
        self._writers: dict[bytes, avro.schema.RecordSchema] = {}
        listed = json.loads(self._get("/v1/schemas"))["schemas"]
        newest: dict[str, dict[str, Any]] = {}
        for kept in listed:
            if kept["version"] > newest.get(kept["name"], {"version": 0})["version"]:
                newest[kept["name"]] = kept
        self.readers = {name: self.writer(bytes.fromhex(kept["fingerprint"])) for name, kept in newest.items()}

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.api + path, timeout=10) as answer:
            body: bytes = answer.read()
        return body

    def writer(self, fingerprint: bytes) -> avro.schema.RecordSchema:
        """The schema whose CRC-64-AVRO fingerprint is these 8 bytes, as a record carries them."""
        if fingerprint not in self._writers:
            try:
                text = self._get(f"/v1/schemas/{fingerprint.hex()}")
            except urllib.error.HTTPError as exc:
                raise LookupError(f"no schema has the fingerprint {fingerprint.hex()} (HTTP {exc.code})") from exc
            schema = avro.schema.parse(text.decode())
            if not isinstance(schema, avro.schema.RecordSchema):
                raise ValueError(f"schema {fingerprint.hex()} is not a record")
            if schema.fingerprint() != fingerprint:  # never trust a schema that is not the one the record names
                raise ValueError(f"the api answered {fingerprint.hex()} with {schema.fingerprint().hex()}")
            self._writers[fingerprint] = schema
        return self._writers[fingerprint]

    def decode(self, value: bytes) -> tuple[str, Any]:
        """(record name, datum) of a single-object encoded value, resolved into the current schema."""
        if len(value) < 10 or value[:2] != MAGIC:
            raise ValueError("not Avro single-object encoding (no C3 01 marker)")
        writer = self.writer(value[2:10])
        reader = self.readers.get(writer.name, writer)
        datum = avro.io.DatumReader(writer, reader).read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
        return writer.name, datum


def consume(bootstrap: str, api: str, ranges: Ranges) -> list[dict[str, Any]]:
    """One dict per record of ``ranges``, shaped like the Java consumer's JSON lines: topic, partition,
    offset, key, fingerprint, and record and value, or error for a value it cannot decode."""
    schemas = SchemaClient(api)
    lines: list[dict[str, Any]] = []
    for raw in read_raw(bootstrap, ranges):
        line: dict[str, Any] = {"topic": raw.topic, "partition": raw.partition, "offset": raw.offset,
                                "key": raw.key.decode(errors="replace") if raw.key is not None else None}
        value = raw.value or b""
        if len(value) >= 10:
            line["fingerprint"] = value[2:10].hex()
        try:
            line["record"], line["value"] = schemas.decode(value)
        except Exception as exc:  # anything wrong with one value is reported on its line, like the Java one
            line["error"] = f"{type(exc).__name__}: {exc}"
        lines.append(line)
    return lines
