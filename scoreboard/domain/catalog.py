"""The server-side action catalog (TOML): which actions exist, how many points each is worth, and the
bounds that keep any one account from farming them.

Bounded by construction: every enabled action worth points declares a ``cooldown_seconds`` or a
``daily_cap``, and ``[limits]`` declares a per-user points budget per UTC hour and per UTC day. A
catalog without them is refused at start, naming the entry. The api refuses early from Redis; the
worker judges the same rules again from the log (``scoreboard.domain.policy``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoreboard.domain.detection import DetectionConfig
from scoreboard.domain.detectors.counters import CounterDetection
from scoreboard.domain.errors import ConfigurationError

DEFAULT_CATALOG = Path(__file__).resolve().parents[1] / "catalogs" / "actions.toml"
ACTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FIELDS = {
    "title", "points", "enabled", "requires_ticket", "min_duration_seconds", "cooldown_seconds", "daily_cap",
}
_LIMIT_FIELDS = {"max_points_per_hour", "max_points_per_day", "max_open_tickets"}


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
class Limits:
    """Per-user bounds across actions: points per UTC hour and per UTC day (0 = no such budget, only
    allowed while no enabled action is worth points), and how many tickets a user may hold open per
    action at once."""

    max_points_per_hour: int = 0
    max_points_per_day: int = 0
    max_open_tickets: int = 1

    def public(self) -> dict[str, int]:
        return {"max_points_per_hour": self.max_points_per_hour, "max_points_per_day": self.max_points_per_day,
                "max_open_tickets": self.max_open_tickets}


@dataclass(frozen=True)
class Catalog:
    version: str
    actions: dict[str, Action]
    limits: Limits = Limits()
    detection: DetectionConfig | None = None
    """The streaming detectors' settings (``[detection]``; ``enabled = false`` there: none run). The
    worker runs the current catalog's."""
    counter_detection: CounterDetection | None = None
    """``[detection.prober]`` and ``[detection.tireless]`` (``scoreboard.domain.detectors.counters``)."""

    def get(self, action_id: str) -> Action | None:
        return self.actions.get(action_id)


@dataclass(frozen=True)
class Catalogs:
    """Every catalog version the worker can judge by: the current one and those kept in the history
    directory. An event records the version it was priced with; a rebuild judges it by that version."""

    current: Catalog
    by_version: dict[str, Catalog]

    def get(self, version: str) -> Catalog | None:
        return self.by_version.get(version)


def load_catalogs(path: str | Path | None = None, history_dir: str | Path | None = None) -> Catalogs:
    """The current catalog plus every ``*.toml`` in ``history_dir`` (earlier versions)."""
    current = load_catalog(path)
    by_version = {current.version: current}
    if history_dir:
        folder = Path(history_dir)
        if not folder.is_dir():
            raise ConfigurationError(f"catalog history {folder}: not a directory")
        for file in sorted(folder.glob("*.toml")):
            older = load_catalog(file)
            known = by_version.get(older.version)
            if known is not None and known != older:
                raise ConfigurationError(f"catalog history {file}: version {older.version!r} is already "
                                         "defined differently; a version's points and bounds never change")
            by_version.setdefault(older.version, older)
    return Catalogs(current, by_version)


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
    limits = _parse_limits(document.get("limits", {}), source)
    _require_bounds(actions, limits, source)
    detection, counters = _parse_detection(document.get("detection", {}), source)
    return Catalog(version=version, actions=actions, limits=limits, detection=detection, counter_detection=counters)


def _parse_detection(table: Any, source: str) -> tuple[DetectionConfig | None, CounterDetection | None]:
    where = f"action catalog {source}: [detection]"
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where} must be a table")
    settings = dict(table)
    enabled = settings.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigurationError(f"{where}: `enabled` must be true or false")
    counted = {name: settings.pop(name) for name in ("prober", "tireless") if name in settings}
    try:
        config = DetectionConfig.from_mapping(settings)
        counters = CounterDetection.from_mapping(counted)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc
    return (config, counters) if enabled else (None, None)


def _parse_limits(table: Any, source: str) -> Limits:
    where = f"action catalog {source}: [limits]"
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where} must be a table")
    unknown = set(table) - _LIMIT_FIELDS
    if unknown:
        raise ConfigurationError(f"{where}: unknown fields {sorted(unknown)}")
    values: dict[str, int] = {}
    for name in _LIMIT_FIELDS & set(table):
        value = table[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigurationError(f"{where}: `{name}` must be a non-negative integer")
        values[name] = value
    limits = Limits(**values)
    if limits.max_open_tickets < 1:
        raise ConfigurationError(f"{where}: `max_open_tickets` must be at least 1")
    return limits


def _require_bounds(actions: dict[str, Action], limits: Limits, source: str) -> None:
    """Refuse a catalog under which one account could farm points without limit."""
    earning = [a for a in actions.values() if a.enabled and a.points > 0]
    for action in earning:
        if not (action.cooldown_seconds or action.daily_cap):
            raise ConfigurationError(
                f"action catalog {source}: action {action.action_id!r} is worth {action.points} points but "
                "declares neither `cooldown_seconds` nor `daily_cap`: one account could farm it without limit")
    if earning and not (limits.max_points_per_hour and limits.max_points_per_day):
        raise ConfigurationError(
            f"action catalog {source}: [limits] must declare `max_points_per_hour` and `max_points_per_day` "
            "(a per-user points budget) while any enabled action is worth points")


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
