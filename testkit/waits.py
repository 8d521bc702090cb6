"""Poll with a deadline instead of sleeping: a missed deadline fails with what was awaited and the
last value seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], timeout_s: float = 30.0, interval_s: float = 0.1,
               what: str = "condition") -> T:
    """Call ``check`` every ``interval_s`` until it returns something truthy, and return that; an
    AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last value: {last!r}")


async def wait_until_async(check: Callable[[], Awaitable[T | None]], timeout_s: float = 30.0,
                           interval_s: float = 0.1, what: str = "condition") -> T:
    """``wait_until`` for a coroutine check, sleeping on the event loop in between."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last value: {last!r}")


async def until_on_loop(check: Callable[[], T | None], timeout_s: float = 5.0, interval_s: float = 0.001,
                        what: str = "condition") -> T:
    """``wait_until`` for a plain check of state the event loop changes: the other tasks run between polls."""
    async def checked() -> T | None:
        return check()

    return await wait_until_async(checked, timeout_s, interval_s, what)
