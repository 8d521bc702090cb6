"""docs/operations.md has one table of every setting: exactly the fields of ``Settings``, each named as
the environment spells it, with the default the dataclass has."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from scoreboard.settings import PREFIX, Settings

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SECTION = "## Configuration (environment, prefix `SCOREBOARD_`)"
HEADER = "| variable | default | meaning |"
EMPTY = "(empty)"


def table_rows(text: str) -> list[list[str]]:
    """The cells of the settings table's rows (header and rule left out)."""
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    lines = section.splitlines()
    start = lines.index(HEADER)
    rows: list[list[str]] = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def parse_default(cell: str, like: Any) -> Any:
    """The default a cell shows, as the type of the dataclass's default: ``(empty)`` or a `literal`."""
    if cell == EMPTY:
        return () if isinstance(like, tuple) else ""
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"default cell {cell!r} is neither {EMPTY} nor a `literal`"
    raw = match.group(1)
    if isinstance(like, tuple):
        return tuple(part.strip() for part in raw.split(","))
    if isinstance(like, bool):
        return raw.lower() in ("1", "true", "yes")
    return type(like)(raw)


def documented() -> dict[str, tuple[str, str]]:
    rows = table_rows(OPERATIONS.read_text(encoding="utf-8"))
    names = [row[0] for row in rows]
    assert len(names) == len(set(names)), "a setting is listed twice"
    return {row[0]: (row[1], row[2]) for row in rows}


def test_the_table_lists_exactly_the_settings_fields() -> None:
    expected = {f"`{PREFIX}{field.name.upper()}`" for field in dataclasses.fields(Settings)}
    listed = set(documented())
    assert not expected - listed, f"settings missing from docs/operations.md: {sorted(expected - listed)}"
    assert not listed - expected, f"docs/operations.md lists what Settings has not: {sorted(listed - expected)}"


def test_each_row_shows_the_dataclass_default_and_a_meaning() -> None:
    rows = documented()
    for field in dataclasses.fields(Settings):
        default_cell, meaning = rows[f"`{PREFIX}{field.name.upper()}`"]
        assert parse_default(default_cell, field.default) == field.default, (field.name, default_cell)
        assert meaning, f"{field.name} has no meaning"


def test_each_listed_variable_is_read_from_the_environment() -> None:
    """The name in the table is the one ``from_env`` reads: a non-default value comes through."""
    for field in dataclasses.fields(Settings):
        value: Any = {str: "x-value", int: 12345, float: 12.5, tuple: ("a", "b")}[type(field.default)]
        raw = ",".join(value) if isinstance(value, tuple) else str(value)
        got = getattr(Settings.from_env({f"{PREFIX}{field.name.upper()}": raw,
                                         f"{PREFIX}STACK_DIR": "/nonexistent"}), field.name)
        assert got == value, (field.name, got)


def test_the_parser_reads_defaults_as_their_types() -> None:
    assert parse_default("(empty)", ()) == () and parse_default("(empty)", "") == ""
    assert parse_default("`HS256`", ("x",)) == ("HS256",)
    assert parse_default("`0.05`", 1.0) == 0.05 and parse_default("`300`", 1.0) == 300.0
    assert parse_default("`8000`", 1) == 8000
