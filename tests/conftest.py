"""Fixtures shared by the e2e and browser tests, and the choice of services: testcontainers when a
Docker engine answers, else the local stack that `make test` started."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest

from testkit.system import System
from tests.support.containers import container_stack, docker_available
from tests.support.suite import running_system

_containers: AbstractContextManager[dict[str, str]] | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _containers
    if docker_available():
        _containers = container_stack()
        os.environ.update(_containers.__enter__())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _containers is not None:
        _containers.__exit__(None, None, None)


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    """Real api, worker and gateway processes on an isolated world of the local stack."""
    with running_system() as running:
        yield running
