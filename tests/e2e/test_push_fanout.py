"""Fan-out through the real api, worker and gateway: 500 concurrent subscribers, 250 on WebSocket and
250 on SSE in one asyncio process, get the same update, while a stalled reader is connected too.

The changes topic is shared by every test world on the stack, so the claims are about what the
gateway pushes (the same versions, the same content, to everyone), whichever world's update wins."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from testkit.subscribers import Subscriber, follow_sse, follow_websocket, open_stalled_websocket
from testkit.system import System
from testkit.waits import wait_until_async
from tests.support.client import ApiClient
from tests.support.suite import running_system

pytestmark = pytest.mark.e2e
WEBSOCKETS = 250
SSE_STREAMS = 250
ONE_HOST_FANOUT = {"SCOREBOARD_GATEWAY_MAX_CONNECTIONS_PER_IP": str(2 * (WEBSOCKETS + SSE_STREAMS)),
                   "SCOREBOARD_GATEWAY_CONNECTS_PER_IP_PER_SECOND": "0"}
"""Every subscriber here connects from 127.0.0.1 at once: lift the gateway's per-address cap and rate."""


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system(ONE_HOST_FANOUT) as running:
        yield running


@dataclass
class FanOut:
    subscribers: list[Subscriber]
    baseline: int  # the newest version any subscriber held before the action was posted
    user: str
    posted_at: float
    common: int  # the newer version every subscriber held at one moment


def converged(subscribers: list[Subscriber], baseline: int) -> bool:
    """Everyone got something newer than the baseline and everyone holds the same newest version."""
    last = {s.versions[-1] for s in subscribers}
    return len(last) == 1 and last.pop() > baseline


async def fan_out(system: System, api: ApiClient) -> FanOut:
    base = system.gateway_url + "/v1/leaderboards/global"
    ws_base = base.replace("http://", "ws://")
    subscribers = [Subscriber(f"ws-{i}") for i in range(WEBSOCKETS)] + [
        Subscriber(f"sse-{i}") for i in range(SSE_STREAMS)]
    limits = httpx.Limits(max_connections=SSE_STREAMS + 10, max_keepalive_connections=0)
    stalled = await asyncio.to_thread(open_stalled_websocket, ws_base + "/ws")
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30, read=None)) as http:
        tasks = [asyncio.create_task(follow_websocket(ws_base + "/ws", s)) for s in subscribers[:WEBSOCKETS]]
        tasks += [asyncio.create_task(follow_sse(http, base + "/events", s)) for s in subscribers[WEBSOCKETS:]]
        try:
            await asyncio.wait_for(asyncio.gather(*(s.got_snapshot.wait() for s in subscribers)), 90)
            baseline = max(s.versions[-1] for s in subscribers)
            user = f"fan-{uuid.uuid4().hex[:8]}"
            posted_at = time.time()
            response = await asyncio.to_thread(api.complete, user, "win-match")
            assert response.status_code == 202, response.text

            async def all_on_one_newer_version() -> bool:
                assert [s.name for s in subscribers if s.error] == []
                return converged(subscribers, baseline)
            await wait_until_async(all_on_one_newer_version, timeout_s=60, interval_s=0.05,
                                   what="every subscriber on the same version, newer than the baseline")
            return FanOut(subscribers, baseline, user, posted_at, subscribers[0].versions[-1])
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(OSError):
                stalled.close()


def test_500_websocket_and_sse_subscribers_all_receive_the_same_update(system: System) -> None:
    """All 500 get a newer version after one posted action, end on the same version, see identical
    content for any version they share, and only ever see increasing versions."""
    api = ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])
    result = asyncio.run(fan_out(system, api))
    subscribers = result.subscribers

    assert [s.name for s in subscribers if s.error] == []
    assert all(s.frames[0].kind == "snapshot" for s in subscribers)
    assert all(s.versions == sorted(set(s.versions)) for s in subscribers), "versions must only increase"
    # frames may still arrive between convergence and the end of the subscriptions: check the version all
    # of them held at one moment, not whatever each holds last
    assert result.common > result.baseline
    assert all(result.common in s.versions for s in subscribers), "not all reached the same newer version"
    content: dict[int, set[tuple[tuple[int, str, int], ...]]] = {}
    for frame in (f for s in subscribers for f in s.frames):
        content.setdefault(frame.version, set()).add(frame.entries)
    assert all(len(entries) == 1 for entries in content.values()), "one version, one content"

    delays = sorted(next(f.at for f in s.frames if f.version > result.baseline) - result.posted_at
                    for s in subscribers)
    carried = sum(1 for s in subscribers if s.first_with(result.user))
    # how fast is the machine's (printed); that everyone got there is asserted above, with a deadline
    print(f"\n500 subscribers: first newer frame p50 {statistics.median(delays) * 1000:.0f} ms, "
          f"max {delays[-1] * 1000:.0f} ms after the POST; {carried} saw the frame carrying {result.user}")
