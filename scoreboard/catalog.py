"""The server-side action catalog (TOML): which actions exist and how many points each is worth."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoreboard.errors import ConfigurationError

DEFAULT_CATALOG = Path(__file__).resolve().parent / "actions.toml"
ACTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FIELDS = {
    "title", "points", "enabled", "requires_ticket", "min_duration_seconds", "cooldown_seconds", "daily_cap",
}


@dataclass(frozen=True)
class Action:
    action_id: str
    title: str
    points: int
    enabled: bool = True
    requires_ticket: bool = False
    min_duration_seconds: int = 0
    cooldown_seconds: int = 0
    daily_cap: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "title": self.title,
            "points": self.points,
            "enabled": self.enabled,
            "requires_ticket": self.requires_ticket,
            "cooldown_seconds": self.cooldown_seconds,
            "daily_cap": self.daily_cap,
        }


@dataclass(frozen=True)
class Catalog:
    version: str
    actions: dict[str, Action]

    def get(self, action_id: str) -> Action | None:
        return self.actions.get(action_id)


def load_catalog(path: str | Path | None = None) -> Catalog:
    source = Path(path) if path else DEFAULT_CATALOG
    try:
        document = tomllib.loads(source.read_text())
    except OSError as exc:
        raise ConfigurationError(f"action catalog {source}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"action catalog {source}: not valid TOML: {exc}") from exc
    return parse_catalog(document, str(source))


def parse_catalog(document: dict[str, Any], source: str = "<catalog>") -> Catalog:
    version = document.get("version")
    if not isinstance(version, str) or not version:
        raise ConfigurationError(f"action catalog {source}: top-level `version` (a string) is required")
    table = document.get("actions")
    if not isinstance(table, dict) or not table:
        raise ConfigurationError(f"action catalog {source}: no [actions.<id>] entries")
    actions = {action_id: _parse_action(action_id, entry, source) for action_id, entry in table.items()}
    return Catalog(version=version, actions=actions)


def _parse_action(action_id: str, entry: Any, source: str) -> Action:
    where = f"action catalog {source}: action {action_id!r}"
    if not ACTION_ID.match(action_id):
        raise ConfigurationError(f"{where}: id must match {ACTION_ID.pattern}")
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: must be a table")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ConfigurationError(f"{where}: unknown fields {sorted(unknown)}")
    points = entry.get("points")
    if not isinstance(points, int) or isinstance(points, bool):
        raise ConfigurationError(f"{where}: `points` must be an integer")

    def flag(name: str, default: bool) -> bool:
        value = entry.get(name, default)
        if not isinstance(value, bool):
            raise ConfigurationError(f"{where}: `{name}` must be true or false")
        return value

    def count(name: str) -> int:
        value = entry.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigurationError(f"{where}: `{name}` must be a non-negative integer")
        return value

    title = entry.get("title", action_id)
    if not isinstance(title, str):
        raise ConfigurationError(f"{where}: `title` must be a string")
    return Action(
        action_id=action_id,
        title=title,
        points=points,
        enabled=flag("enabled", True),
        requires_ticket=flag("requires_ticket", False),
        min_duration_seconds=count("min_duration_seconds"),
        cooldown_seconds=count("cooldown_seconds"),
        daily_cap=count("daily_cap"),
    )
