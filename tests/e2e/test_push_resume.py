"""Resume after a disconnect through the real api, worker and gateway; refusals as a client sees them.

An observer stays connected throughout, so "newest" means what the gateway pushed last, whichever
test world on the shared stack produced it."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from testkit.subscribers import Subscriber, follow_websocket
from testkit.system import System
from testkit.waits import wait_until_async
from tests.support.client import ApiClient

pytestmark = pytest.mark.e2e


def urls(system: System) -> tuple[str, str]:
    base = system.gateway_url + "/v1/leaderboards/global"
    return base.replace("http://", "ws://") + "/ws", base + "/events"


async def post_and_wait_for_newer(api: ApiClient, observer: Subscriber, than: int) -> int:
    user = f"resume-{uuid.uuid4().hex[:8]}"
    assert (await asyncio.to_thread(api.complete, user, "complete-level")).status_code == 202

    async def newer() -> int | None:
        return observer.versions[-1] if observer.versions[-1] > than else None
    return await wait_until_async(newer, timeout_s=30, interval_s=0.05, what="a newer pushed version")


async def first_sse_event(client: httpx.AsyncClient, url: str, last_event_id: int) -> tuple[int, dict[str, object]]:
    headers = {"Last-Event-ID": str(last_event_id)}
    async with asyncio.timeout(30), client.stream("GET", url, headers=headers) as response:
        event_id = -1
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = int(line.removeprefix("id: "))
            elif line.startswith("data: "):
                return event_id, json.loads(line.removeprefix("data: "))
    raise AssertionError("the stream ended without an event")


async def resume_scenario(system: System, api: ApiClient) -> None:
    ws_url, sse_url = urls(system)
    observer = Subscriber("observer")
    watching = asyncio.create_task(follow_websocket(ws_url, observer))
    try:
        await asyncio.wait_for(observer.got_snapshot.wait(), 30)
        if observer.versions[-1] == 0:  # a fresh world: push a first state, so there is one to hold
            await post_and_wait_for_newer(api, observer, than=0)
        async with websockets.connect(ws_url) as ws:
            held = json.loads(await ws.recv())["version"]
        async with httpx.AsyncClient(timeout=30) as http:
            sse_held, _ = await first_sse_event(http, sse_url, last_event_id=0)

            newest = await post_and_wait_for_newer(api, observer, than=max(held, sse_held))

            async with websockets.connect(ws_url) as ws:
                snapshot = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "resume", "version": held}))
                await ws.send(json.dumps({"type": "ping"}))
                after = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert snapshot["type"] == "snapshot" and snapshot["version"] >= newest > held
            assert after["type"] in ("pong", "update"), after  # never the same state again
            assert after.get("version", snapshot["version"] + 1) > snapshot["version"]

            event_id, data = await first_sse_event(http, sse_url, last_event_id=sse_held)
            assert event_id == data["version"] and event_id >= newest > sse_held
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)


def test_a_client_that_reconnects_after_missing_updates_gets_the_newest_state(system: System) -> None:
    """WebSocket (snapshot, then resume with the old version sends nothing again) and SSE
    (Last-Event-ID) both answer a state at least as new as the newest pushed while away."""
    asyncio.run(resume_scenario(system, ApiClient(system.api_url, system.env["SCOREBOARD_JWT_SECRET"])))


async def close_reason(url: str, origin: str | None = None) -> tuple[int, str]:
    async with websockets.connect(url, origin=origin) as ws:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_unknown_boards_and_foreign_origins_are_refused_with_1008_over_the_wire(system: System) -> None:
    """A real client reads the close code and reason; SSE answers problem+json 404."""
    ws_url, sse_url = urls(system)
    code, reason = asyncio.run(close_reason(ws_url.replace("/global/", "/monthly/")))
    assert code == 1008 and "no board 'monthly'" in reason
    assert asyncio.run(close_reason(ws_url, origin="https://elsewhere.example"))[0] == 1008
    response = httpx.get(sse_url.replace("/global/", "/monthly/"))
    assert (response.status_code, response.headers["content-type"]) == (404, "application/problem+json")
