from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import System, start_system
from scoreboard.stack.worlds import isolated_world


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    """Real api, worker and gateway processes on an isolated world of the local stack."""
    with isolated_world() as world:
        running = start_system(world)
        try:
            yield running
        finally:
            running.stop_all()
