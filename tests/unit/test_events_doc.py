"""docs/events.md stays true: its test vectors are generated here and checked byte for byte, they
decode to the events they describe, and its example consumer compiles.

Regenerate the vectors block after a deliberate change: ``SCOREBOARD_WRITE_VECTORS=1 pytest
tests/unit/test_events_doc.py`` (then review the diff: a changed vector means consumers' bytes change)."""

from __future__ import annotations

import ast
import json
import os
import re
import zlib
from pathlib import Path

from scoreboard.adapters import codec
from scoreboard.domain.events import (
    ActionCompleted,
    BoardEntry,
    Event,
    LeaderboardChanged,
    RejectedAction,
    ScoreChanged,
)
from scoreboard.domain.topics import ACTIONS, LEADERBOARD_CHANGES, REJECTED, SCORE_CHANGES, TOPICS

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
BEGIN = "<!-- test-vectors:begin (written and checked by tests/unit/test_events_doc.py; do not edit) -->"
END = "<!-- test-vectors:end -->"
AT = 1_795_996_800_000_000  # 2026-11-30T00:00:00Z
EVENT_ID = "0b6a3c1e-5e2f-5f6a-9d2b-3a4c5d6e7f80"
VECTORS: list[tuple[str, str, Event]] = [
    (ACTIONS, "alice", ActionCompleted(EVENT_ID, "alice", "win-match", "nonce-0001", 100, "2026-11-27.1", AT,
                                       "req-0001")),
    (SCORE_CHANGES, "alice", ScoreChanged(EVENT_ID, "alice", "win-match", 100, 1200, AT)),
    (LEADERBOARD_CHANGES, "global", LeaderboardChanged(
        "global", AT + 17, (BoardEntry(1, "alice", 1200), BoardEntry(2, "bob", 900)), AT + 17)),
    (REJECTED, "mallory", RejectedAction("5d2c8e4a-1f3b-5a6c-8d7e-9f0a1b2c3d4e", "mallory",
                                         "cooldown: 'win-match' was accepted 12.0s earlier; its cooldown is 300s",
                                         3, 42, AT + 5)),
]


def partitions_of(topic: str) -> int:
    return next(spec.partitions for spec in TOPICS if spec.name == topic)


def rendered() -> str:
    lines = [BEGIN, ""]
    for topic, key, event in VECTORS:
        value = codec.encode(event)
        partition = zlib.crc32(key.encode()) % partitions_of(topic)
        lines += [f"**`{topic}`**: key `{key}` (UTF-8; partition {partition} of {partitions_of(topic)}), "
                  f"value {len(value)} bytes, fingerprint `{value[2:10].hex()}`, decodes to", "",
                  "```json", json.dumps(codec._to_record(event)), "```", "", "```text"]
        lines += [value[start:start + 32].hex(" ") for start in range(0, len(value), 32)]
        lines += ["```", ""]
    return "\n".join([*lines, END])


def block_of(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def test_the_test_vectors_in_the_doc_are_what_the_codec_writes() -> None:
    text = DOC.read_text()
    if os.environ.get("SCOREBOARD_WRITE_VECTORS") == "1":
        DOC.write_text(text.replace(block_of(text), rendered()))
        text = DOC.read_text()
    assert block_of(text) == rendered(), "docs/events.md test vectors drifted: see this module's docstring"


def test_each_vector_in_the_doc_decodes_to_its_event() -> None:
    """Read back from the doc's hex (not from the codec): what a consumer copying them would check."""
    dumps = re.findall(r"```text\n((?:[0-9a-f]{2}[ \n])+)```", block_of(DOC.read_text()))
    assert len(dumps) == len(VECTORS)
    for dump, (_, _, event) in zip(dumps, VECTORS, strict=True):
        assert codec.decode(bytes.fromhex(dump.replace("\n", " "))) == event


def test_the_doc_covers_every_topic_and_record() -> None:
    text = DOC.read_text()
    for spec in TOPICS:
        assert f"`{spec.name}`" in text
    for name in codec.EVENT_TYPES:
        assert f"`{name}`" in text


def test_the_example_consumer_compiles_and_is_short() -> None:
    example = re.search(r"<!-- example-consumer -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert example is not None
    code = example.group(1)
    ast.parse(code)
    assert len(code.strip().splitlines()) <= 25
