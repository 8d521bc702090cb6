"""The gateway's WebSocket protocol closes an open socket with 1001 when uvicorn shuts down, even when
the application never closed it itself (uvicorn's own shutdown says 1012)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn
import websockets

from devstack.ports import free_port
from gateway.wsserver import CLOSE_GOING_AWAY, GOING_AWAY_REASON, PushWebSocketProtocol
from testkit.waits import until_on_loop


async def accept_then_wait_for_disconnect(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accepts, then only waits: it never closes a socket on a stop signal of its own."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def test_server_shutdown_closes_accepted_sockets_with_going_away() -> None:
    async def scenario() -> list[tuple[int | None, str | None]]:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(accept_then_wait_for_disconnect, host="127.0.0.1", port=port,
                                               ws=PushWebSocketProtocol, log_config=None, lifespan="off",
                                               timeout_graceful_shutdown=5))
        serving = asyncio.create_task(server.serve())
        await until_on_loop(lambda: server.started, what="uvicorn started", timeout_s=20)
        sockets = [await websockets.connect(f"ws://127.0.0.1:{port}/") for _ in range(5)]
        await until_on_loop(lambda: len(server.server_state.tasks) == len(sockets),
                            what="every connection's task running", timeout_s=20)
        server.should_exit = True
        closes = []
        for ws in sockets:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
            closes.append((ws.close_code, ws.close_reason))
        await asyncio.wait_for(serving, 20)
        return closes

    assert asyncio.run(scenario()) == [(CLOSE_GOING_AWAY, GOING_AWAY_REASON)] * 5
