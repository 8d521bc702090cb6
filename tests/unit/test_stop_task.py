"""``stop_task``: a task that swallows a cancellation is cancelled again; one that never stops is left
behind after the patience, with a warning, so the stop itself always completes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import pytest

from scoreboard.runtime.stopping import finish, stop_task
from scoreboard.runtime.stopping import log as stopping_log


@pytest.fixture(autouse=True)
def stopping_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The module's own records reach ``caplog`` directly (another test may have configured logging as
    the processes do: the project's loggers not propagating, or existing loggers disabled)."""
    stopping_log.addHandler(caplog.handler)
    level, disabled = stopping_log.level, stopping_log.disabled
    stopping_log.setLevel(logging.INFO)
    stopping_log.disabled = False
    try:
        yield
    finally:
        stopping_log.removeHandler(caplog.handler)
        stopping_log.setLevel(level)
        stopping_log.disabled = disabled


async def swallows(times: int, swallowed: list[int], started: asyncio.Event,
                   always: asyncio.Event | None = None) -> None:
    """Sets ``started``, then waits forever; its first ``times`` cancellations are caught and ignored, as
    a library may (all of them while ``always`` is set)."""
    started.set()
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if len(swallowed) >= times and not (always and always.is_set()):
                raise
            swallowed.append(1)


def test_a_plain_task_stops_at_the_first_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> asyncio.Task[None]:
        started = asyncio.Event()
        task = asyncio.create_task(swallows(0, [], started))
        await started.wait()
        await stop_task(task, "plain")
        return task

    assert asyncio.run(scenario()).cancelled()
    assert not caplog.records


def test_a_task_that_swallows_cancellations_is_cancelled_again_until_it_stops(caplog: pytest.LogCaptureFixture) -> None:
    swallowed: list[int] = []

    async def scenario() -> asyncio.Task[None]:
        started = asyncio.Event()
        task = asyncio.create_task(swallows(3, swallowed, started))
        await started.wait()
        await stop_task(task, "the feed", patience_s=60)
        return task

    assert asyncio.run(scenario()).cancelled()
    assert len(swallowed) == 3
    assert "the feed stopped after 4 cancellations" in caplog.text


def test_a_task_that_never_stops_is_left_behind_and_the_stop_returns(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> bool:
        always = asyncio.Event()
        always.set()
        started = asyncio.Event()
        task = asyncio.create_task(swallows(0, [], started, always))
        await started.wait()
        await stop_task(task, "the stubborn one", patience_s=0.3)
        left = not task.done()
        always.clear()  # the test's own clean-up: the next cancellation ends it
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return left

    assert asyncio.run(scenario())
    assert "the stubborn one did not stop" in caplog.text


def test_an_error_on_the_way_out_is_retrieved_not_raised() -> None:
    async def fails_when_cancelled(started: asyncio.Event) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("closing failed")

    async def scenario() -> asyncio.Task[None]:
        started = asyncio.Event()
        task = asyncio.create_task(fails_when_cancelled(started))
        await started.wait()
        await stop_task(task, "failing")
        return task

    assert isinstance(asyncio.run(scenario()).exception(), RuntimeError)


def test_a_stop_inside_a_stopped_task_stops_its_child_before_the_parent_ends() -> None:
    """The parent's ``finally`` stops a child that swallows cancellations, while the parent itself is
    being cancelled again and again from outside: the child still ends first."""
    swallowed: list[int] = []

    async def parent(children: list[asyncio.Task[None]], started: asyncio.Event) -> None:
        child = asyncio.create_task(swallows(3, swallowed, started))
        children.append(child)
        try:
            await asyncio.Event().wait()
        finally:
            await stop_task(child, "the child", patience_s=60)

    async def scenario() -> tuple[asyncio.Task[None], asyncio.Task[None]]:
        children: list[asyncio.Task[None]] = []
        child_started = asyncio.Event()
        task = asyncio.create_task(parent(children, child_started))
        await child_started.wait()  # the parent is waiting, its child inside its swallowing loop
        await stop_task(task, "the parent", patience_s=60)
        return task, children[0]

    parent_task, child = asyncio.run(scenario())
    assert parent_task.cancelled() and child.cancelled()
    assert len(swallowed) == 3


def test_a_shutdown_step_that_hangs_is_stopped_and_the_shutdown_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[str]:
        done: list[str] = []

        async def hangs() -> None:
            await asyncio.Event().wait()

        async def closes() -> None:
            done.append("closed")

        await finish(hangs(), "the hanging pool", patience_s=0.2)
        await finish(closes(), "the client")
        return done

    assert asyncio.run(scenario()) == ["closed"]
    assert "the hanging pool did not finish within 0.2 s" in caplog.text


def test_a_shutdown_step_that_fails_raises_as_awaiting_it_would() -> None:
    async def fails() -> None:
        raise OSError("socket gone")

    with pytest.raises(OSError, match="socket gone"):
        asyncio.run(finish(fails(), "the client"))
