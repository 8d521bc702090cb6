"""The auto-pipelined Redis connection against real Redis: replies reach their own callers, commands
of one loop turn share one write, and failures (error replies, unknown scripts, a killed connection,
a silent server, no server) each fail exactly what they should."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from devstack.ports import free_port
from scoreboard.adapters.autopipe import AutoPipeline, Script
from scoreboard.settings import merged_environment
from testkit.waits import wait_until_async

Runner = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run_loop(request: pytest.FixtureRequest) -> Runner:
    """Both event loops: uvicorn runs the api on uvloop, whose transports differ from asyncio's."""
    runner: Runner = asyncio.run if request.param == "asyncio" else uvloop.run
    return runner


def with_pipeline(body: Callable[[AutoPipeline, Redis], Awaitable[None]], run_loop: Runner,
                  **options: float) -> None:
    async def run() -> None:
        redis = Redis.from_url(merged_environment()["SCOREBOARD_REDIS_URL"])
        calls = AutoPipeline.for_client(redis, client_name=f"autopipe-test-{uuid.uuid4().hex[:12]}", **options)
        try:
            await body(calls, redis)
        finally:
            await calls.close()
            await redis.aclose()

    run_loop(run())


def fresh() -> str:
    return f"test:autopipe:{uuid.uuid4().hex}"


def test_concurrent_commands_share_writes_and_each_gets_its_own_reply(run_loop: Runner) -> None:
    async def body(calls: AutoPipeline, redis: Redis) -> None:
        keys = [fresh() for _ in range(300)]
        await asyncio.gather(*(calls.execute("SET", key, str(i), "EX", 60) for i, key in enumerate(keys)))
        before = calls.batches
        values = await asyncio.gather(*(calls.execute("GET", key) for key in keys))
        assert values == [str(i).encode() for i in range(len(keys))]
        assert calls.batches - before < 10  # 300 commands, a handful of writes
        # the same database as the redis-py client of the same URL
        assert await redis.get(keys[7]) == b"7"
    with_pipeline(body, run_loop)


def test_an_error_reply_fails_only_its_own_command(run_loop: Runner) -> None:
    async def body(calls: AutoPipeline, redis: Redis) -> None:
        text, number = fresh(), fresh()
        await redis.set(text, "not a number", ex=60)
        results = await asyncio.gather(calls.execute("INCR", number), calls.execute("INCR", text),
                                       calls.execute("INCR", number), return_exceptions=True)
        assert results[0] == 1 and results[2] == 2
        assert isinstance(results[1], ResponseError) and "not an integer" in str(results[1])
        await redis.delete(number)
    with_pipeline(body, run_loop)


def test_a_script_unknown_to_redis_is_sent_once_in_full(run_loop: Runner) -> None:
    async def body(calls: AutoPipeline, redis: Redis) -> None:
        script = Script(f"-- {uuid.uuid4().hex}\nreturn {{KEYS[1], ARGV[1]}}")
        assert await redis.script_exists(script.sha) == [False]
        assert await calls.run(script, ["k"], [42]) == [b"k", b"42"]
        assert await redis.script_exists(script.sha) == [True]
        assert await calls.run(script, ["k2"], ["x"]) == [b"k2", b"x"]
    with_pipeline(body, run_loop)


def test_a_killed_connection_fails_what_was_in_flight_and_the_next_command_reconnects(run_loop: Runner) -> None:
    async def body(calls: AutoPipeline, redis: Redis) -> None:
        queue = fresh()
        blocked = calls.execute("BLPOP", queue, 30)  # holds the shared connection until killed

        async def blocked_in_blpop() -> list[dict[str, str]]:
            return [c for c in await redis.client_list() if c["name"] == calls.client_name and c["cmd"] == "blpop"]
        ours = await wait_until_async(blocked_in_blpop, timeout_s=20, interval_s=0.01,
                                      what="Redis shows our connection blocked in BLPOP")
        assert len(ours) == 1
        assert await redis.client_kill_filter(_id=ours[0]["id"]) == 1
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(blocked, 5)
        assert await calls.execute("PING") == b"PONG"
    with_pipeline(body, run_loop)


def test_a_silent_server_times_out_everything_in_flight(run_loop: Runner) -> None:
    async def body(calls: AutoPipeline, redis: Redis) -> None:
        queue = fresh()
        blocked = calls.execute("BLPOP", queue, 30)
        behind = calls.execute("PING")  # queued behind the blocked command on the same connection
        for future in (blocked, behind):
            with pytest.raises(RedisTimeoutError):
                await asyncio.wait_for(future, 5)
        assert await calls.execute("PING") == b"PONG"
    with_pipeline(body, run_loop, reply_timeout_s=0.4)


def test_no_server_is_a_prompt_connection_error(run_loop: Runner) -> None:
    async def run() -> None:
        calls = AutoPipeline(port=free_port(), connect_timeout_s=1)
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(calls.execute("PING"), 5)
        await calls.close()
    run_loop(run())


def test_a_server_that_hangs_up_during_the_handshake_fails_each_command_and_never_sticks(run_loop: Runner) -> None:
    """A listener that closes every connection at once: each command fails promptly, none waits forever."""
    async def run() -> None:
        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        calls = AutoPipeline(port=port, connect_timeout_s=1)
        try:
            for _ in range(2):
                with pytest.raises(RedisConnectionError):
                    await asyncio.wait_for(calls.execute("PING"), 5)
        finally:
            await calls.close()
            server.close()
            await server.wait_closed()
    run_loop(run())
