"""Avro schemas of every event this service writes: every released version of every record.

Each record has a folder, ``schemas/<Record>/``, holding one file per released version: ``v1.avsc``,
``v2.avsc``, ... The newest is the current schema (what writers write and readers resolve into);
older ones stay, unchanged, for as long as a log may hold records written with them (for the
actions topic: forever). A released file is never edited or removed: a change is a new version,
backward compatible with every older one (``tests/unit/test_schema_versions.py`` checks both).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")


@dataclass(frozen=True)
class SchemaVersion:
    """One released version of a record's schema, exactly as its file holds it."""

    name: str
    version: int
    text: str

    @property
    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = json.loads(self.text)
        return schema


@cache
def versions(name: str) -> tuple[SchemaVersion, ...]:
    """Every kept version of ``name``, oldest first; the last one is the current schema."""
    found: dict[int, SchemaVersion] = {}
    folder = SCHEMA_DIR / name
    for path in folder.glob("v*.avsc"):
        match = _VERSION_FILE.fullmatch(path.name)
        if match is not None:
            version = int(match.group(1))
            found[version] = SchemaVersion(name, version, path.read_text())
    if not found:
        raise KeyError(f"no schema named {name!r} (expected {folder}/v1.avsc)")
    if sorted(found) != list(range(1, len(found) + 1)):
        raise ValueError(f"the versions of {name} must be v1..vN without gaps, found {sorted(found)}")
    return tuple(found[version] for version in sorted(found))


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The current (newest) schema of ``name`` (for example ``"ActionCompleted"``)."""
    return versions(name)[-1].schema


def schema_names() -> list[str]:
    """Every record that has at least one version."""
    return sorted(path.parent.name for path in SCHEMA_DIR.glob("*/v1.avsc"))
