"""Which services the tests use: testcontainers only when a Docker engine answers and it is wanted."""

from __future__ import annotations

import pytest

from tests.support.containers import docker_available


def test_testcontainers_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCOREBOARD_TESTCONTAINERS=0 keeps the local stack even where Docker runs."""
    monkeypatch.setenv("SCOREBOARD_TESTCONTAINERS", "0")
    assert docker_available() is False


def test_no_docker_engine_means_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Docker host that does not answer is not an engine."""
    monkeypatch.setenv("SCOREBOARD_TESTCONTAINERS", "1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker_available() is False
