"""The server-side action catalog."""

from __future__ import annotations

from typing import Any

import pytest

from scoreboard.domain.catalog import load_catalog, load_catalogs, parse_catalog
from scoreboard.domain.errors import ConfigurationError


def test_the_shipped_catalog_loads_with_points_and_ticket_rules() -> None:
    """The default catalog has a version and valid entries."""
    catalog = load_catalog()
    assert catalog.version
    assert catalog.actions["win-match"].points == 100
    assert catalog.actions["boss-fight"].requires_ticket


@pytest.mark.parametrize(("document", "message"), [
    ({"actions": {"a": {"points": 1}}}, "version"),
    ({"version": "1", "actions": {}}, "no [actions"),
    ({"version": "1", "actions": {"a": {"points": "5"}}}, "'a': `points` must be an integer"),
    ({"version": "1", "actions": {"a": {"points": True}}}, "`points` must be an integer"),
    ({"version": "1", "actions": {"a": {"points": 1, "bonus": 2}}}, "unknown fields ['bonus']"),
    ({"version": "1", "actions": {"Bad Id": {"points": 1}}}, "'Bad Id': id must match"),
    ({"version": "1", "actions": {"a": {"points": 1, "cooldown_seconds": -1}}}, "non-negative"),
    ({"version": "1", "actions": {"a": {"points": 1, "enabled": "yes"}}}, "`enabled` must be true or false"),
])
def test_a_bad_entry_is_refused_with_a_message_naming_it(document: dict[str, Any], message: str) -> None:
    """Validation at start names the bad entry and what is wrong with it."""
    with pytest.raises(ConfigurationError) as error:
        parse_catalog(document)
    assert message in str(error.value)


def test_negative_points_are_allowed() -> None:
    """A penalty action may take points away."""
    catalog = parse_catalog({"version": "1", "actions": {"penalty": {"points": -30}}})
    assert catalog.actions["penalty"].points == -30


@pytest.mark.parametrize(("document", "message"), [
    ({"version": "1", "limits": {"max_points_per_hour": 10, "max_points_per_day": 10},
      "actions": {"farm": {"points": 5}}}, "'farm' is worth 5 points but declares neither"),
    ({"version": "1", "actions": {"a": {"points": 5, "daily_cap": 1}}}, "[limits] must declare"),
    ({"version": "1", "limits": {"max_points_per_hour": 10}, "actions": {"a": {"points": 5, "daily_cap": 1}}},
     "[limits] must declare"),
    ({"version": "1", "limits": {"max_points_per_hour": -1}, "actions": {"a": {"points": -5}}}, "non-negative"),
    ({"version": "1", "limits": {"per_minute": 1}, "actions": {"a": {"points": -5}}}, "unknown fields"),
    ({"version": "1", "limits": {"max_open_tickets": 0}, "actions": {"a": {"points": -5}}}, "at least 1"),
])
def test_an_unbounded_catalog_is_refused_at_start_naming_the_entry(document: dict[str, Any], message: str) -> None:
    """Every action worth points needs a cooldown or a daily cap, and the catalog a points budget."""
    with pytest.raises(ConfigurationError) as error:
        parse_catalog(document)
    assert message in str(error.value)


def test_disabled_zero_and_negative_actions_need_no_bounds() -> None:
    catalog = parse_catalog({"version": "1", "actions": {"off": {"points": 9, "enabled": False},
                                                         "zero": {"points": 0}, "penalty": {"points": -3}}})
    assert set(catalog.actions) == {"off", "zero", "penalty"}


def test_every_shipped_catalog_is_bounded_and_the_default_at_a_human_pace() -> None:
    """The default catalog: a login a day, no match or level faster than a human plays one."""
    catalog = load_catalog()
    assert catalog.actions["daily-login"].daily_cap == 1
    assert catalog.actions["win-match"].cooldown_seconds >= 120
    assert catalog.actions["boss-fight"].min_duration_seconds >= 30
    assert catalog.limits.max_open_tickets == 1
    assert 0 < catalog.limits.max_points_per_hour <= catalog.limits.max_points_per_day


def test_the_catalog_history_judges_old_versions_and_refuses_a_rewritten_one(tmp_path: Any) -> None:
    """Retired versions load from the history folder; a version redefined differently is refused."""
    current = tmp_path / "actions.toml"
    current.write_text('version = "2"\n[actions.a]\npoints = -1\n')
    history = tmp_path / "history"
    history.mkdir()
    (history / "1.toml").write_text('version = "1"\n[actions.a]\npoints = -2\n')
    catalogs = load_catalogs(current, history)
    assert catalogs.current.version == "2" and catalogs.get("1") is not None
    (history / "2.toml").write_text('version = "2"\n[actions.a]\npoints = -9\n')
    with pytest.raises(ConfigurationError, match="already defined differently"):
        load_catalogs(current, history)
