"""The Postgres ledger keeps the ledger contract (tests/contracts/ledger_contract.py), as the in-memory
fake does in tests/unit/test_memory_ledger_contract.py. One isolated world (its own database) serves
the module; each test writes only users and partitions of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from devstack.worlds import World, isolated_world
from projections.ledger import Ledger
from scoreboard.domain.policy import Judge
from stream_app.ports import LedgerPort
from tests.contracts.ledger_contract import LedgerContract
from tests.contracts.ledger_scenarios import OpenLedger


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with isolated_world("ledger") as created:
        yield created


class TestPostgresLedger(LedgerContract):
    @pytest.fixture()
    def open_ledger(self, world: World) -> OpenLedger:
        @asynccontextmanager
        async def opened(judge: Judge | None) -> AsyncIterator[LedgerPort]:
            pool: AsyncConnectionPool[AsyncConnection]
            async with AsyncConnectionPool(world.database_url, min_size=1, max_size=2) as pool:
                yield Ledger(pool, judge)

        return opened
