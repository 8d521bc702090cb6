"""The in-memory ledger keeps the ledger contract (tests/contracts/ledger_contract.py), as the Postgres
ledger does in tests/integration/test_postgres_ledger_contract.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from scoreboard.domain.policy import Judge
from stream_app.ports import LedgerPort
from tests.contracts.ledger_contract import LedgerContract
from tests.contracts.ledger_scenarios import OpenLedger
from tests.support.memory_ledger import MemoryLedger


class TestMemoryLedger(LedgerContract):
    @pytest.fixture()
    def open_ledger(self) -> OpenLedger:
        @asynccontextmanager
        async def opened(judge: Judge | None) -> AsyncIterator[LedgerPort]:
            yield MemoryLedger(judge=judge)

        return opened
