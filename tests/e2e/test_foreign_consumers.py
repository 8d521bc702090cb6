"""Consumers nobody here wrote read every topic: a Java one built with Maven (Apache kafka-clients and
Avro's ``BinaryMessageDecoder`` with a ``SchemaStore`` over ``GET /v1/schemas/{fingerprint}``,
``clients/java-consumer``) and a Python one on Apache's ``avro`` package (``tests/support/avro_consumer.py``).

Traffic that reaches all four topics goes through the real system: completions and an adjustment (score
changes, leaderboard changes from the worker), a ban and an action of the banned user (a rejection), and
one ActionCompleted written with an older writer schema. Each consumer must decode every record of the
offsets the test produced over, to the same field values as our own codec (``codec.decode``), the
older-schema record included (resolved into the current schema: ``request_id`` gets its default).

The older schema is not a kept file in ``schemas/``, so the running api cannot serve it; the consumers ask
``tests/support/schema_mirror.py``, which serves that one schema and passes everything else to the api."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from devstack.worlds import topic_ends
from schemas import load_schema
from scoreboard.adapters import codec
from scoreboard.domain.events import ActionCompleted, Event, ScoreAdjusted, UserBanned
from scoreboard.domain.topics import ACTIONS, LEADERBOARD_CHANGES, REJECTED, SCORE_CHANGES
from scoreboard.settings import Settings
from testkit.waits import wait_until
from tests.support.avro_consumer import Ranges, RawRecord, consume, read_raw
from tests.support.java_consumer import build_java_consumer, missing_tools, run_java_consumer
from tests.support.older_schema import append_raw, encode_with, older_writer
from tests.support.schema_mirror import schema_mirror
from tests.support.suite import running_system
from tests.support.workload import action, produce

pytestmark = pytest.mark.e2e
TOPICS = (ACTIONS, SCORE_CHANGES, LEADERBOARD_CHANGES, REJECTED)
Position = tuple[str, int, int]


def as_json(event: Event) -> dict[str, Any]:
    """The event's fields as JSON gives them back (tuples become lists)."""
    fields: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(event)))
    return fields


def decoded_by_us(records: list[RawRecord]) -> dict[Position, tuple[str, dict[str, Any]]]:
    """(record name, fields) by position of every record our codec decodes. The topics are shared with
    other tests' worlds, and some write undecodable values on purpose: those are left out."""
    decoded: dict[Position, tuple[str, dict[str, Any]]] = {}
    for record in records:
        try:
            event = codec.decode(record.value or b"")
        except Exception:
            continue
        decoded[(record.topic, record.partition, record.offset)] = (type(event).__name__, as_json(event))
    return decoded


def ranges_since(bootstrap: str, starts: dict[str, dict[int, int]]) -> Ranges:
    ends = {topic: topic_ends(bootstrap, topic) for topic in TOPICS}
    return {topic: {p: (starts[topic].get(p, 0), end) for p, end in ends[topic].items()} for topic in TOPICS}


def check_consumer(name: str, lines: list[dict[str, Any]], expected: dict[Position, tuple[str, dict[str, Any]]],
                   ranges: Ranges) -> None:
    by_position = {(line["topic"], line["partition"], line["offset"]): line for line in lines}
    assert len(by_position) == len(lines), f"{name} printed a record twice"
    for topic in TOPICS:
        ours = [position for position in expected if position[0] == topic]
        assert ours, f"no record of ours on {topic}"
        missing = [position for position in ours if position not in by_position]
        assert not missing, f"{name} did not print {missing} of {topic}"
        for position in ours:
            line, (record, fields) = by_position[position], expected[position]
            assert "error" not in line, f"{name} could not decode {position}: {line['error']}"
            assert line["record"] == record, (name, position, line["record"], record)
            assert line["value"] == fields, (name, position, line["value"], fields)
    for topic, partition, offset in by_position:
        start, end = ranges[topic][partition]
        assert start <= offset < end, f"{name} read {topic}/{partition}@{offset} outside [{start}, {end})"


def test_java_and_python_avro_consumers_decode_every_topic_like_our_codec() -> None:
    skip = missing_tools()
    if skip:
        pytest.skip(skip)
    started = time.monotonic()
    jar = build_java_consumer()  # cached in ~/.cache/scoreboard/java-consumer after the first time
    print(f"\nJava consumer ready in {time.monotonic() - started:.1f} s: {jar}")
    older = older_writer()
    codec.register_writer_schema("ActionCompleted", older)  # so that our codec, the reference, reads it too
    run = uuid.uuid4().hex[:6]
    player, cheat, veteran = f"fc-player-{run}", f"fc-cheat-{run}", f"fc-veteran-{run}"
    with running_system() as system:
        bootstrap = system.world.kafka_bootstrap
        starts = {topic: topic_ends(bootstrap, topic) for topic in TOPICS}
        now_us = time.time_ns() // 1000
        completions = [action(player, 10, now_us), action(player, 50, now_us + 1000)]
        adjusted = ScoreAdjusted(str(uuid.uuid4()), player, 7, "goodwill", "root", f"adj-{run}", now_us + 2000)
        ban = UserBanned(str(uuid.uuid4()), cheat, "cheating", "root", now_us + 3000)
        asyncio.run(produce(bootstrap, [*completions, adjusted, ban]))
        banned_action = action(cheat, 10, now_us + 4000)
        asyncio.run(produce(bootstrap, [banned_action]))
        old: ActionCompleted = action(veteran, 10, now_us + 5000)
        asyncio.run(append_raw(Settings.from_env(system.world.env), [(old, encode_with(older, old))]))

        def arrived() -> dict[Position, tuple[str, dict[str, Any]]] | None:
            decoded = decoded_by_us(read_raw(bootstrap, ranges_since(bootstrap, starts)))
            values = list(decoded.values())
            changed = {fields["event_id"] for name, fields in values if name == "ScoreChanged"}
            rejected = {fields["event_id"]: fields["reason"] for name, fields in values if name == "RejectedAction"}
            boards = [fields for name, fields in values if name == "LeaderboardChanged"
                      and any(entry["user_id"] == player for entry in fields["entries"])]
            done = ({e.event_id for e in completions} | {adjusted.event_id} <= changed and boards
                    and rejected.get(banned_action.event_id, "").startswith("banned"))
            return decoded if done else None

        wait_until(arrived, timeout_s=60, interval_s=0.5, what="score, board and rejection records of the run")
        ranges = ranges_since(bootstrap, starts)
        expected = decoded_by_us(read_raw(bootstrap, ranges))
        older_positions = [position for position, (_, fields) in expected.items()
                           if position[0] == ACTIONS and fields["event_id"] == old.event_id]
        assert len(older_positions) == 1
        assert expected[older_positions[0]][1]["request_id"] == ""  # resolved: the field it lacks, defaulted
        counts = {topic: sum(1 for position in expected if position[0] == topic) for topic in TOPICS}
        print(f"records of ours to decode: {counts}")

        with schema_mirror(system.api_url, [older]) as api:
            consumers: dict[str, Callable[[], list[dict[str, Any]]]] = {
                "python-avro": lambda: consume(bootstrap, api, ranges),
                "java": lambda: run_java_consumer(jar, bootstrap, api, ranges),
            }
            for name, run_consumer in consumers.items():
                started = time.monotonic()
                lines = run_consumer()
                print(f"{name} consumer: {len(lines)} records in {time.monotonic() - started:.1f} s")
                check_consumer(name, lines, expected, ranges)
                older_line = next(line for line in lines if line["offset"] == older_positions[0][2]
                                  and (line["topic"], line["partition"]) == older_positions[0][:2])
                assert older_line["fingerprint"] == codec.fingerprint_of(older).hex()
                assert older_line["fingerprint"] != codec.fingerprint_of(load_schema("ActionCompleted")).hex()
