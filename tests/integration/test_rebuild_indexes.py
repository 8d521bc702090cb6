"""A rebuild drops the indexes it builds at the end, and the schema is whole again afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from devstack.worlds import World, isolated_world
from projections import rebuild_indexes
from stream_app.rebuild import drop_projections, restore_indexes


@pytest.fixture()
def world() -> Iterator[World]:
    with isolated_world("ix") as made:
        yield made


def index_definitions(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"))


def index_names(database_url: str) -> set[str]:
    return set(index_definitions(database_url))


def test_every_deferred_index_is_one_a_migration_creates() -> None:
    """The definitions come from the migrations, one ``CREATE INDEX IF NOT EXISTS`` each."""
    found = rebuild_indexes.definitions()
    assert list(found) == list(rebuild_indexes.DEFERRED)
    assert all(statement.startswith(f"CREATE INDEX IF NOT EXISTS {name} ON ") for name, statement in found.items())


def test_the_deferred_indexes_are_dropped_then_restored_exactly(world: World) -> None:
    """Emptying the projections drops only the deferred indexes (the keys the replay reads stay), and
    restoring gives back the same set of indexes with the same definitions."""
    before = index_names(world.database_url)
    definitions = index_definitions(world.database_url)
    assert set(rebuild_indexes.DEFERRED) <= before
    drop_projections(world.settings())
    during = index_names(world.database_url)
    assert during == before - set(rebuild_indexes.DEFERRED)
    kept = {"ledger_user_nonce", "ledger_event_id_key", "board_scores_pkey", "board_scores_user", "ledger_held"}
    assert kept <= during
    restore_indexes(world.settings())
    restore_indexes(world.settings())  # a second time is a no-op
    assert index_definitions(world.database_url) == definitions
