"""How the end-to-end and browser tests run the system: the test kit's processes with the suite's
catalog and limits, on a new isolated world per ``running_system``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.worlds import World, isolated_world
from testkit import system as kit

TEST_CATALOG = Path(__file__).resolve().parent / "catalog.toml"
LOAD_ENV = {
    "SCOREBOARD_ACTIONS_FILE": str(TEST_CATALOG),
    "SCOREBOARD_RATE_USER_PER_SECOND": "10000",
    "SCOREBOARD_RATE_USER_BURST": "100000",
}
"""What the end-to-end tests run with unless they say otherwise: the tests' catalog (bounded far above a
human's pace) and per-user rate limits to match, so the tests of crashes, pushes and queries can drive
many actions per user. Tests of the abuse defences pass the shipped catalog and limits explicitly."""
SUITE_ENV = LOAD_ENV | {"SCOREBOARD_BATCH_WAIT_SECONDS": "0.02"}
"""``LOAD_ENV`` and a short batch wait, so that a test sees its actions applied sooner."""


def start_system(world: World, workers: int = 1, extra_env: dict[str, str] | None = None) -> kit.System:
    """The kit's ``start_system`` with ``SUITE_ENV``; ``extra_env`` is added to every process's
    environment (e.g. lower rate limits for a test)."""
    return kit.start_system(world, workers=workers, env=SUITE_ENV | (extra_env or {}))


@contextmanager
def running_system(extra_env: dict[str, str] | None = None, workers: int = 1) -> Iterator[kit.System]:
    """Real api, worker(s) and gateway on a new isolated world, stopped and dropped after the block."""
    with isolated_world() as world, start_system(world, workers=workers, extra_env=extra_env) as system:
        yield system
