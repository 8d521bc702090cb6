"""``gather_turns``: commands issued over that many turns of the event loop go to Redis in one write,
each still gets its own reply, in order; with 1 (the default) each turn's commands are one write."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import uvloop
from redis.asyncio import Redis

from scoreboard.adapters.autopipe import AutoPipeline
from scoreboard.settings import merged_environment


async def writes_for_two_turns(gather_turns: int) -> tuple[int, list[object]]:
    """Commands in two consecutive loop turns; (how many writes they took, their replies)."""
    redis = Redis.from_url(merged_environment()["SCOREBOARD_REDIS_URL"])
    calls = AutoPipeline.for_client(redis, client_name=f"autopipe-gather-{uuid.uuid4().hex[:12]}",
                                    gather_turns=gather_turns)
    key = f"test:autopipe:{uuid.uuid4().hex}"
    try:
        await calls.execute("PING")  # connected: later writes measure batching alone
        before = calls.batches
        first = calls.execute("INCR", key)
        await asyncio.sleep(0)  # yields exactly one loop turn: the boundary under test, not a wait
        second = calls.execute("INCR", key)
        replies = [await first, await second, await calls.execute("DEL", key)]
        return calls.batches - before - 1, replies  # the DEL's own write left out
    finally:
        await calls.close()
        await redis.aclose()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_commands_of_two_turns_share_one_write_with_two_turns_of_gathering(loop: str) -> None:
    run = asyncio.run if loop == "asyncio" else uvloop.run
    assert run(writes_for_two_turns(2)) == (1, [1, 2, 1])
    assert run(writes_for_two_turns(1)) == (2, [1, 2, 1])
