"""A client that stops reading only ever stalls itself, and then gets the newest state, not a backlog.

This runs the real HTTP server (uvicorn on loopback sockets, the gateway's own app) and feeds its hub
directly: filling a stalled socket's kernel buffers takes thousands of large frames, which the shared
Kafka topic should not carry. The fan-out through Kafka is in ``test_push_fanout.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from devstack.ports import free_port
from gateway.bootstrap import WS_MAX_FRAME_BYTES, create_app
from gateway.hub import BoardState
from gateway.services import GatewayServices
from scoreboard.settings import Settings
from testkit.subscribers import Subscriber, follow_websocket, open_stalled_websocket, read_text_frames
from testkit.waits import wait_until_async
from tests.support.gateway_fakes import gateway_services

pytestmark = pytest.mark.e2e
READERS = 20
VERSIONS = 600
NAME_PAD = "x" * 800  # ~8 KiB frames: the stalled socket's buffers fill after a few hundred


def big_state(version: int) -> BoardState:
    return BoardState("global", version, tuple((r, f"user-{r}-{NAME_PAD}", version * 10 - r) for r in range(1, 11)))


@contextlib.asynccontextmanager
async def serving(services: GatewayServices) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port,
                                           log_level="warning", ws_max_size=WS_MAX_FRAME_BYTES))
    task = asyncio.create_task(server.serve())
    try:
        async def started() -> bool:
            return server.started
        await wait_until_async(started, timeout_s=10, interval_s=0.02, what="uvicorn started")
        yield f"ws://127.0.0.1:{port}/v1/leaderboards/global/ws"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def scenario() -> dict[str, float]:
    services = gateway_services(Settings(heartbeat_seconds=60, gateway_send_timeout_seconds=120))
    services.feed.caught_up.set()
    hub = services.hub
    hub.publish(big_state(1))
    async with serving(services) as url:
        stalled = await asyncio.to_thread(open_stalled_websocket, url)
        readers = [Subscriber(f"reader-{i}") for i in range(READERS)]
        tasks = [asyncio.create_task(follow_websocket(url, r)) for r in readers]
        try:
            await asyncio.wait_for(asyncio.gather(*(r.got_snapshot.wait() for r in readers)), 10)
            worst_lag = 0.0
            for version in range(2, VERSIONS + 1):
                published = time.monotonic()
                hub.publish(big_state(version))

                async def readers_have(version: int = version) -> bool:
                    return all(r.versions[-1] == version for r in readers)
                # a reader held up by the stalled one would never get there: the deadline only bounds the wait
                await wait_until_async(readers_have, timeout_s=30, interval_s=0.0005, what=f"readers at v{version}")
                worst_lag = max(worst_lag, time.monotonic() - published)
            lagging_while_stalled = hub.lagging_count()

            def reached_newest(frames: list[dict[str, Any]]) -> bool:
                return bool(frames) and frames[-1]["version"] == VERSIONS
            frames = await asyncio.to_thread(read_text_frames, stalled, 60.0, reached_newest)
            return {"worst_lag_s": worst_lag, "lagging": lagging_while_stalled,
                    "stalled_frames": len(frames), "stalled_last": frames[-1]["version"] if frames else -1,
                    "stalled_first": frames[0]["version"] if frames else -1}
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            stalled.close()


def test_a_stalled_reader_delays_no_one_and_then_gets_the_newest_state_not_a_backlog() -> None:
    """600 versions of ~8 KiB, each published only once all 20 readers have the previous one: they
    all get every version while one socket is not read; that one lags (the gateway holds one pending
    state for it) and, read at last, ends on the newest version after far fewer frames than were
    published. (How fast the readers get each version is printed, not asserted: it is the machine's.)"""
    result = asyncio.run(scenario())
    print(f"\n{result}")
    assert result["lagging"] == 1
    assert result["stalled_first"] == 1
    assert result["stalled_last"] == VERSIONS
    assert result["stalled_frames"] < VERSIONS / 2
