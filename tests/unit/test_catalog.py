"""The server-side action catalog."""

from __future__ import annotations

from typing import Any

import pytest

from scoreboard.catalog import load_catalog, parse_catalog
from scoreboard.errors import ConfigurationError


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
