"""Fixtures shared by the e2e and browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scoreboard.stack.worlds import isolated_world
from tests.support.processes import System, start_system


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    """Real api, worker and gateway processes on an isolated world of the local stack."""
    with isolated_world() as world:
        running = start_system(world)
        try:
            yield running
        finally:
            running.stop_all()
