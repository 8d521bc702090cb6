"""docs/operations.md has one table of every setting, generated from ``Settings``: each field named as the
environment spells it, with its default and its description (``scoreboard.settings.settings_table``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from scoreboard.settings import PREFIX, Settings, settings_table

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SECTION = "## Configuration (environment, prefix `SCOREBOARD_`)"
HEADER = "| variable | default | meaning |"
EMPTY = "(empty)"

# A valid value other than the default, for the fields that are validated beyond their type.
SAMPLES: dict[str, str] = {
    "database_url": "postgresql://u@db/scores", "redis_url": "rediss://cache:6380/1", "api_url": "https://api.test",
    "public_api_url": "https://public-api.test",
    "jwks_url": "https://idp.test/jwks", "otlp_endpoint": "http://collector:4318", "trusted_proxies": "10.0.0.0/8,::1",
}


def section_table(text: str) -> str:
    """The settings table of the configuration section, header to last row, as written."""
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    lines = section.splitlines()
    start = lines.index(HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[start:end]) + "\n"


def parse_default(cell: str, like: Any) -> Any:
    """The default a cell shows, as the type of the field's default: ``(empty)`` or a `literal`."""
    if cell == EMPTY:
        return () if isinstance(like, tuple) else ""
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"default cell {cell!r} is neither {EMPTY} nor a `literal`"
    raw = match.group(1)
    if isinstance(like, tuple):
        return tuple(part.strip() for part in raw.split(","))
    return type(like)(raw)


def test_the_docs_hold_exactly_the_table_generated_from_the_model() -> None:
    """Regenerate with ``settings_table()`` after changing a field, its default or its description."""
    assert section_table(OPERATIONS.read_text(encoding="utf-8")) == settings_table()


def test_the_generated_table_has_one_row_per_field_with_its_default_and_a_meaning() -> None:
    rows = settings_table().splitlines()[2:]
    assert len(rows) == len(Settings.model_fields)
    for row, (name, field) in zip(rows, Settings.model_fields.items(), strict=True):
        variable, default_cell, meaning = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        assert variable == f"`{PREFIX}{name.upper()}`"
        assert parse_default(default_cell, field.default) == field.default, (name, default_cell)
        assert meaning and meaning != "None", f"{name} has no description"


def test_each_listed_variable_is_read_from_the_environment() -> None:
    """The name in the table is the one ``from_env`` reads: a non-default value comes through."""
    for name, field in Settings.model_fields.items():
        raw = SAMPLES.get(name) or {str: "x-value", int: "12345", float: "12.5", tuple: "a,b"}[type(field.default)]
        expected: Any = tuple(raw.split(",")) if isinstance(field.default, tuple) else type(field.default)(raw)
        got = getattr(Settings.from_env({f"{PREFIX}{name.upper()}": raw, f"{PREFIX}STACK_DIR": "/nonexistent"}), name)
        assert got == expected, (name, got)


def test_the_parser_reads_defaults_as_their_types() -> None:
    assert parse_default("(empty)", ()) == () and parse_default("(empty)", "") == ""
    assert parse_default("`HS256`", ("x",)) == ("HS256",)
    assert parse_default("`0.05`", 1.0) == 0.05 and parse_default("`300`", 1.0) == 300.0
    assert parse_default("`8000`", 1) == 8000
