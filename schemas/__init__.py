"""Avro schemas of every event this service writes, one ``.avsc`` file per event type."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON schema of ``name`` (for example ``"ActionCompleted"``)."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.avsc").read_text())
    return schema


def schema_names() -> list[str]:
    return sorted(path.stem for path in SCHEMA_DIR.glob("*.avsc"))
